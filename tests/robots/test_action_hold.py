"""``action.hold``: actuated joints a policy observes but does not drive, held at their offset by
their PD (the spec's one statement of them), and the ``last_action`` term without them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim2real.errors import SpecError
from sim2real.robots import DATA_DIR, load_spec

CALVES = ["FL_calf", "FR_calf", "RL_calf", "RR_calf"]


def write(tmp_path: Path, hold, last_action: int = 8, scale=0.5) -> Path:
    """The embedded quadruped's spec with ``action.hold`` and a last_action of ``last_action`` values."""
    shutil.copy(DATA_DIR / "quadruped.xml", tmp_path / "quadruped.xml")
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["action"] = {"scale": scale, "filter": 1.0, "hold": hold}
    for term in raw["observation"]:
        if term["name"] == "last_action":
            term["size"] = last_action
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


class TestHeldActuators:
    def test_held_joints_keep_their_pd_and_move_nothing_through_the_action(self, tmp_path):
        spec = load_spec(write(tmp_path, CALVES))
        assert spec.held == tuple(CALVES) and spec.n_actions == 12  # every actuator gets a command
        held = [spec.actuated_joints.index(j) for j in CALVES]
        assert spec.action_scale[held].tolist() == [0.0] * 4
        assert all(spec.actuator(j).model == "pd" and spec.actuator(j).kp > 0 for j in CALVES)
        np.testing.assert_array_equal(
            spec.action_offset[held], spec.default_pose[[spec.joints.index(j) for j in CALVES]]
        )
        assert [spec.actuated_joints[i] for i in spec.action_index] == [
            j for j in spec.joints if j not in CALVES
        ]

    def test_a_policy_of_the_spec_records_them_and_observes_the_driven_actions_only(self, tmp_path):
        from sim2real.envs.core import TaskEnv
        from sim2real.policy.metadata import PolicyMetadata
        from sim2real.tasks import get_task

        spec = load_spec(write(tmp_path, CALVES))
        meta = PolicyMetadata.from_spec(spec, action_scale=spec.action_scale, action_filter=1.0)
        again = PolicyMetadata.from_props(meta.to_props())
        assert again.held == tuple(CALVES) and again.action_index.tolist() == list(spec.action_index)
        env = TaskEnv(spec, get_task(spec), 2, seed=0, nthread=1)
        action = np.ones((2, 12))
        env.step(action)
        assert env.obs_inputs().last_action.shape == (2, 8)
        held = [spec.actuated_joints.index(j) for j in CALVES]
        np.testing.assert_allclose(
            env.command_values[:, held], np.broadcast_to(spec.action_offset[held], (2, 4))
        )

    @pytest.mark.parametrize(
        ("hold", "last_action", "scale", "message"),
        [
            (["FL_calf", "elbow"], 11, 0.5, "action.hold: 'elbow' is not an actuated joint"),
            (None, 8, 0.5, "observation.last_action.size is 8, but this robot's last_action has 12 entries"),
            (
                CALVES,
                12,
                0.5,
                "observation.last_action.size is 12, but this robot's last_action has 8 entries",
            ),
            ("FL_calf", 8, 0.5, "action.hold must be a list of distinct joint names"),
            (
                CALVES,
                8,
                {
                    j: 0.5
                    for j in [
                        "FL_hip",
                        "FL_thigh",
                        "FR_hip",
                        "FR_thigh",
                        "RL_hip",
                        "RL_thigh",
                        "RR_hip",
                        "RR_thigh",
                        "FL_calf",
                    ]
                },
                "action.scale: .FL_calf. is held \\(action.hold\\): no action moves it",
            ),
        ],
    )
    def test_what_cannot_be_held_is_one_clear_error(self, tmp_path, hold, last_action, scale, message):
        with pytest.raises(SpecError, match=message):
            load_spec(write(tmp_path, hold, last_action, scale))

    def test_holding_every_actuator_is_refused(self, tmp_path):
        raw_joints = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())["joints"]
        with pytest.raises(SpecError, match="every actuator is held"):
            load_spec(write(tmp_path, raw_joints, 1))
