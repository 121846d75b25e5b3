"""How the fault suite stages its cases on robots nobody here made: the stand-in policy's slew on
stiff joints with small torque limits (Talos's grippers tripped the collision observer with no fault
injected), a collision push that would throw a link (Bolt's 1000 N m URDF limits) reported as not
applicable with the reason, and cases longer than the policy keeps the robot quiet reported as not
applicable (Bolt under the stand-in tips over after 0.6 s; its 1.1 s stage-speed case failed)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from sim2real.deploy.collision_reach import MAX_SWING
from sim2real.deploy.fault_cases import Collision, NanReading, NotApplicableError
from sim2real.deploy.faults import _NoFault, check_quiet, run_case, run_suite
from sim2real.deploy.record import fixed_base_spec
from sim2real.deploy.stand_in import STAND_IN_TORQUE_STEP, StandInPolicy
from sim2real.real.protocol import Reading
from sim2real.robots import DATA_DIR, load_robot


class TestStandInSlew:
    def test_a_pd_target_starts_at_the_reading_and_moves_by_a_small_torque_step(self, quadruped):
        policy = StandInPolicy(quadruped)
        index = [quadruped.joints.index(a.joint) for a in quadruped.actuators]
        default = np.asarray(quadruped.default_pose, dtype=float)
        q = default.copy()
        q[index[0]] += 0.5  # far from the default pose for its torque window
        act = quadruped.actuators[0]
        step = STAND_IN_TORQUE_STEP * act.torque_limit / act.kp
        reading = Reading(t=0.0, q=q, qd=np.zeros_like(q))
        first = policy.step_reading(reading).copy()
        assert first[0] == pytest.approx(q[index[0]] - step)
        # the other joints are at their default pose: their targets are it at once
        assert np.allclose(first[1:], default[index][1:])
        commands = [policy.step_reading(reading).copy() for _ in range(int(np.ceil(0.5 / step)) + 1)]
        assert np.all(np.abs(np.diff([first[0]] + [c[0] for c in commands])) <= step + 1e-12)
        assert commands[-1][0] == pytest.approx(default[index[0]])  # it gets there

    def test_reset_starts_again_from_the_next_reading(self, quadruped):
        policy = StandInPolicy(quadruped)
        index = [quadruped.joints.index(a.joint) for a in quadruped.actuators]
        q = np.asarray(quadruped.default_pose, dtype=float) + 0.3
        policy.step_reading(
            Reading(t=0.0, q=np.asarray(quadruped.default_pose, dtype=float), qd=np.zeros_like(q))
        )
        policy.reset()
        again = policy.step_reading(Reading(t=0.0, q=q, qd=np.zeros_like(q)))
        assert np.all(np.abs(again - q[index]) <= 0.3)  # moved from this reading, not the old target


def _limits_of(tmp_path, torque: float):
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["name"], raw["mjcf"] = "quadruped_placeholder_limits", str(DATA_DIR / "quadruped.xml")
    raw["safety"]["joint_torque"] = {j: torque for j in raw["joints"]}
    for actuator in raw["actuators"].values():
        actuator["torque_limit"] = torque
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    return fixed_base_spec(load_robot(str(tmp_path / "robot.yaml")))


class TestCollisionThatCannotBeStaged:
    def test_a_push_that_would_throw_the_link_is_not_applicable_with_the_reason(self, tmp_path):
        """1000 N m placeholder limits (a URDF's effort="1000") make a 200 N m threshold: 3 x that
        on a calf is no push but a throw; the case says so and what to change, it is not run."""
        spec = _limits_of(tmp_path, 1000.0)
        with pytest.raises(NotApplicableError) as info:
            run_case(spec, Collision, fixed_base=True)
        message = str(info.value)
        assert f"more than {MAX_SWING} rad" in message and "threshold is 200 N m" in message
        assert "torque limit 1000 N m" in message and "safety.joint_torque" in message

    def test_the_suite_reports_it_not_tested_and_does_not_pass(self, tmp_path):
        spec = _limits_of(tmp_path, 1000.0)
        result = run_suite(spec, faults=(Collision,), fixed_base=True)
        assert [c["name"] for c in result["cases"]] == ["policy_missing"] and result["skipped"] == []
        (untested,) = result["not_tested"]
        assert untested["name"] == "collision" and untested["reason"].startswith("a push at 3 x")
        assert result["all_passed"] is False


def _nan_after(ticks: int):
    """A stand-in that outputs NaN from its ``ticks``-th step on (the monitor holds: a stop the
    quiet run sees only when it lasts that long)."""

    class LateNaN(StandInPolicy):
        steps = 0

        def step_reading(self, reading, velocity_command=None):
            self.steps += 1
            out = super().step_reading(reading, velocity_command)
            return np.full_like(out, np.nan) if self.steps > ticks else out

    return LateNaN


class Long(NanReading):
    name = "long_nan_reading"

    def horizon_ticks(self) -> int:
        return 200


class TestCasesLongerThanTheQuietRun:
    def test_a_stop_within_a_short_case_still_refuses_the_suite(self, furuta):
        from sim2real.errors import Sim2RealError

        with pytest.raises(Sim2RealError, match="stops the run with no fault injected"):
            check_quiet(furuta, policy_factory=_nan_after(20), ticks=400)

    def test_a_later_stop_leaves_only_the_longer_cases_not_tested(self, furuta):
        short = run_case(furuta, _NoFault).ticks
        result = run_suite(furuta, policy_factory=_nan_after(short + 20), faults=(NanReading, Long))
        names = [c["name"] for c in result["cases"]]
        assert names == ["nan_reading", "policy_missing"] and result["cases"][0]["passed"]
        (untested,) = result["not_tested"]
        assert untested["name"] == "long_nan_reading" and result["all_passed"] is False
        reason = untested["reason"]
        assert reason.startswith("the case runs") and "(unusable command (non-finite" in reason, reason


class TestStageBelowFullSpeed:
    def test_the_stand_in_on_a_velocity_tracking_robot_is_said_to_ignore_the_stage(self, quadruped):
        """Below 100 % a velocity-tracking robot's stage scales its velocity command only, which the
        stand-in ignores: the result says so instead of implying a slowed policy was tested."""
        result = run_suite(quadruped, stage=0, faults=())
        assert result["stage"] == 0 and result["speed_fraction"] == pytest.approx(0.1)
        assert "which the stand-in policy ignores" in result["stage_note"]

    def test_no_note_at_full_speed_with_a_real_policy_or_without_a_velocity_command(self, quadruped, furuta):
        from sim2real.deploy.faults import _stage_note
        from sim2real.deploy.speed import SpeedConfig

        stages = SpeedConfig().stages
        assert _stage_note(quadruped, stages, len(stages) - 1, None) == ""
        assert _stage_note(quadruped, stages, 0, StandInPolicy) == ""
        assert _stage_note(furuta, stages, 0, None) == ""  # its stages slow the stand-in's targets
