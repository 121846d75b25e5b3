"""Commands of another recorder's bag that name no joints (ros2_control's Float64MultiArray), in an
order the bag does not state: ``--command-order`` says which joint each value drives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from logs_testdata import EPOCH, STEP, foreign_state, write_foreign

from sim2real.errors import LogError
from sim2real.logs import BagWriter, read_bag
from sim2real.logs.bag_states import CommandOrder, parse_command_order

LEGS_ROBOT, LEGS_VENDOR = ("FL", "FR", "RL", "RR"), ("FR", "FL", "RR", "RL")
ROBOT = tuple(f"{leg}_{part}" for leg in LEGS_ROBOT for part in ("hip", "thigh", "calf"))
"""The robot spec's actuator order (the embedded quadruped's)."""
VENDOR = tuple(f"{leg}_{part}" for leg in LEGS_VENDOR for part in ("hip", "thigh", "calf"))
"""A Unitree Go2's motor order: the order of its driver's /joint_states and of its controller's commands."""
CONTROLLER = "/forward_position_controller/commands"


def _go2_bag(
    path: Path, states: tuple[str, ...], commanded: tuple[str, ...], n: int = 20, seed: int = 0
) -> tuple[Path, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A Go2 bag from ``ros2 bag record``: /joint_states naming ``states`` in that order, and unnamed
    Float64MultiArray commands with one value per joint of ``commanded``, in that order.

    Returns:
        The bag, and the true positions and commands of each joint, shape (n,) each.
    """
    rng = np.random.default_rng(seed)
    q = {j: rng.uniform(-1.0, 1.0, n) for j in states}
    u = {j: rng.uniform(-1.0, 1.0, n) for j in commanded}
    msgs = [
        (EPOCH + i * STEP, foreign_state(EPOCH + i * STEP, states, [q[j][i] for j in states]))
        for i in range(n)
    ]
    commands = [(EPOCH + i * STEP, [u[j][i] for j in commanded]) for i in range(n)]
    return write_foreign(path, msgs, commands, command_topic=CONTROLLER), q, u


def _check_lands_on_the_right_joints(back, q: dict, u: dict) -> None:
    for j, values in u.items():
        np.testing.assert_array_equal(back.command[:, back.command_joints.index(j)], values, err_msg=j)
    for j, values in q.items():
        np.testing.assert_array_equal(back.q[:, back.joint_index(j)], values, err_msg=j)


class TestParse:
    @pytest.mark.parametrize("text", ["auto", "robot", "states"])
    def test_the_named_orders(self, text):
        assert parse_command_order(text) == CommandOrder(text) and str(parse_command_order(text)) == text

    def test_a_joint_list_with_spaces(self):
        order = parse_command_order(" FR_hip , FL_hip ")
        assert order == CommandOrder("joints", ("FR_hip", "FL_hip")) and str(order) == "FR_hip,FL_hip"

    @pytest.mark.parametrize(
        ("text", "says"), [("", "expected auto"), ("a,,b", "expected auto"), ("a,b,a", "['a']")]
    )
    def test_an_empty_item_or_a_joint_twice_is_one_error_line(self, text, says):
        with pytest.raises(LogError) as exc:
            parse_command_order(text)
        assert "\n" not in str(exc.value) and says in str(exc.value) and "--command-order" in str(exc.value)


class TestVendorOrder:
    """/joint_states and commands both in the Go2's motor order (FR, FL, RR, RL)."""

    def test_by_default_it_is_one_error_line_naming_the_option(self, tmp_path):
        bag, _, _ = _go2_bag(tmp_path / "go2", VENDOR, VENDOR)
        with pytest.raises(LogError) as exc:
            read_bag(bag, command_joints=ROBOT)
        text = str(exc.value)
        assert "\n" not in text and "ambiguous" in text
        assert "--command-order states" in text and "robot" in text and "J1,J2,..." in text

    def test_states_puts_each_value_on_its_joint(self, tmp_path):
        bag, q, u = _go2_bag(tmp_path / "go2", VENDOR, VENDOR, seed=1)
        back = read_bag(bag, command_joints=ROBOT, command_order="states")
        assert back.command_joints == VENDOR
        _check_lands_on_the_right_joints(back, q, u)

    def test_an_explicit_list_gives_the_same(self, tmp_path):
        bag, q, u = _go2_bag(tmp_path / "go2", VENDOR, VENDOR, seed=2)
        by_states = read_bag(bag, command_joints=ROBOT, command_order="states")
        listed = read_bag(bag, command_joints=ROBOT, command_order=",".join(VENDOR))
        assert listed.command_joints == by_states.command_joints
        np.testing.assert_array_equal(listed.command, by_states.command)
        _check_lands_on_the_right_joints(listed, q, u)

    def test_robot_when_the_controller_lists_the_joints_in_the_robots_order(self, tmp_path):
        bag, q, u = _go2_bag(tmp_path / "go2", VENDOR, ROBOT, seed=3)
        back = read_bag(bag, command_joints=ROBOT, command_order="robot")
        assert back.command_joints == ROBOT
        _check_lands_on_the_right_joints(back, q, u)
        wrong = read_bag(bag, command_joints=ROBOT, command_order="states")  # the order decides
        assert not np.array_equal(wrong.command[:, wrong.command_joints.index("FL_hip")], u["FL_hip"])

    @pytest.mark.parametrize(
        ("order", "says"),
        [
            (",".join(VENDOR[:-1]), "commands have 12 values but --command-order names 11 joints"),
            (",".join((*VENDOR[:-1], "RL_knee")), "names joints ['RL_knee'] that /joint_states lacks"),
        ],
    )
    def test_a_wrong_length_list_or_an_unknown_joint_is_one_error_line(self, tmp_path, order, says):
        bag, _, _ = _go2_bag(tmp_path / "go2", VENDOR, VENDOR)
        with pytest.raises(LogError) as exc:
            read_bag(bag, command_joints=ROBOT, command_order=order)
        assert "\n" not in str(exc.value) and says in str(exc.value)


class TestExtraJoints:
    """/joint_states with a joint the robot lacks (a gripper), commands as wide as the robot's actuators."""

    STATES = (*VENDOR[:6], "gripper", *VENDOR[6:])

    def test_by_default_they_are_taken_in_the_actuator_order_with_a_warning_naming_the_option(
        self, tmp_path, caplog
    ):
        bag, _, _ = _go2_bag(tmp_path / "go2", self.STATES, VENDOR)
        with caplog.at_level("WARNING"):
            back = read_bag(bag, command_joints=ROBOT)
        assert back.command_joints == ROBOT
        (line,) = [r.getMessage() for r in caplog.records if "actuator order" in r.getMessage()]
        assert "--command-order states|J1,J2,..." in line

    def test_states_takes_the_joint_states_order_of_the_actuated_joints(self, tmp_path):
        bag, q, u = _go2_bag(tmp_path / "go2", self.STATES, VENDOR, seed=4)
        back = read_bag(bag, command_joints=ROBOT, command_order="states")
        assert back.command_joints == VENDOR
        _check_lands_on_the_right_joints(back, q, u)

    def test_states_refuses_a_width_it_cannot_place(self, tmp_path):
        bag, _, _ = _go2_bag(tmp_path / "go2", self.STATES, VENDOR[:5])
        with pytest.raises(
            LogError, match=r"5 values, neither the bag's 13 joints nor the robot's 12 actuated"
        ):
            read_bag(bag, command_joints=ROBOT, command_order="states")
        with pytest.raises(LogError, match="are not in its actuator order"):
            read_bag(bag, command_joints=ROBOT, command_order="robot")
        back = read_bag(
            bag, command_joints=ROBOT, command_order=",".join(VENDOR[:5])
        )  # a list places any width
        assert back.command_joints == VENDOR[:5]


class TestNamedCommandJoints:
    """sim2real's own bags name their command joints: the option may only agree."""

    def _own(self, path: Path) -> Path:
        with BagWriter(path, None, VENDOR, command_joints=ROBOT) as bag:
            for i in range(3):
                bag.write_state(i * 0.01, np.zeros(12), np.zeros(12))
                bag.write_command(i * 0.01, np.arange(12.0))
        return path

    def test_auto_and_an_agreeing_order_keep_them(self, tmp_path):
        bag = self._own(tmp_path / "own")
        for order in ("auto", "robot", ",".join(ROBOT)):
            back = read_bag(bag, command_joints=ROBOT, command_order=order)
            assert back.command_joints == ROBOT
            np.testing.assert_array_equal(back.command[0], np.arange(12.0))

    @pytest.mark.parametrize("order", ["states", ",".join(VENDOR)])
    def test_a_contradicting_order_is_one_error_line(self, tmp_path, order):
        with pytest.raises(LogError) as exc:
            read_bag(self._own(tmp_path / "own"), command_joints=ROBOT, command_order=order)
        text = str(exc.value)
        assert (
            "\n" not in text and "the bag names its command joints" in text and "leave the option out" in text
        )
