"""Recording for identification: excitation scaled per actuator model, the arm kept inside its limits,
the bag, the record command, and a killed recording."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from deploy_testdata import (
    TWIN_YAML,
    killed_before_closing,
    read_with_both_readers,
    run_until_ticks_then_kill,
    tiny_policy,
    twin,
)

from sim2real.cli import main
from sim2real.deploy.centering import CenteringPD, joint_inertia
from sim2real.deploy.record import (
    DEFAULT_AMPLITUDE,
    PD_TORQUE_FRACTION,
    ExcitationPolicy,
    TrotGait,
    fixed_base_spec,
    initial_state,
    per_joint_chirp,
    record,
)
from sim2real.errors import Sim2RealError
from sim2real.logs import read_bag
from sim2real.real.protocol import Reading
from sim2real.real.twin import TwinConfig, TwinRobot
from sim2real.robots import load_robot


def at_rest(spec, t: float, q=None) -> Reading:
    q = np.asarray(spec.default_pose if q is None else q, dtype=float)
    return Reading(t=t, q=q, qd=np.zeros(spec.n_joints))


class TestScaling:
    def test_voltage_is_a_fraction_of_the_supply(self, furuta):
        policy = ExcitationPolicy(furuta, "prbs", 2.0, amplitude=0.4)
        u = np.array([policy.step_reading(at_rest(furuta, k * furuta.control_dt))[0] for k in range(1000)])
        np.testing.assert_allclose(np.abs(u), 4.0)  # +-0.4 * 10 V; at the default pose the PD adds nothing

    def test_pd_targets_are_radians_around_the_default_pose(self, quadruped):
        policy = ExcitationPolicy(quadruped, "chirp", 1.0, amplitude=0.15)
        u = np.array([policy.step_reading(at_rest(quadruped, k * 0.02)) for k in range(50)])
        offset = u - quadruped.default_pose
        assert np.abs(offset).max() == pytest.approx(0.15, rel=0.05)
        assert policy.centering is None

    def test_default_amplitudes_per_actuator_model(self, furuta, quadruped):
        assert ExcitationPolicy(furuta, "chirp", 1.0).scale == pytest.approx(
            [DEFAULT_AMPLITUDE["dc_motor"] * 10.0]
        )
        pendulum = load_robot("pendulum")
        assert ExcitationPolicy(pendulum, "steps", 1.0).scale == pytest.approx(
            [DEFAULT_AMPLITUDE["torque"] * 12.0]
        )
        assert np.allclose(ExcitationPolicy(quadruped, "chirp", 1.0).scale, DEFAULT_AMPLITUDE["pd"])

    def test_a_stiff_pd_joint_gets_at_most_half_its_torque_limits_angle(self, quadruped):
        """Menagerie's UR5e wrist (kp 3000, 28 N m) saturated at 9 mrad under the 0.1 rad default:
        its chirp spent a third of the record in collision holds."""
        stiff = dataclasses.replace(
            quadruped, actuators=tuple(dataclasses.replace(a, kp=3000.0) for a in quadruped.actuators)
        )
        scale = ExcitationPolicy(stiff, "chirp", 1.0).scale
        limits = np.array([a.torque_limit for a in stiff.actuators])
        np.testing.assert_allclose(scale, PD_TORQUE_FRACTION * limits / 3000.0)
        assert np.all(scale < DEFAULT_AMPLITUDE["pd"])
        assert np.allclose(ExcitationPolicy(stiff, "chirp", 1.0, amplitude=0.1).scale, 0.1)  # asked for: kept

    def test_the_centering_pd_follows_its_design(self, furuta):
        policy = ExcitationPolicy(furuta, "chirp", 1.0, amplitude=0.5)
        pd = policy.centering
        torque_amplitude = 0.5 * 10.0 * 0.042 / 8.4  # stall torque of 5 V
        assert pd.excursion[0] == pytest.approx(0.75)  # 0.3 * half of [-2.5, 2.5]
        assert pd.kp[0] == pytest.approx(torque_amplitude / 0.75)
        assert pd.kd[0] == pytest.approx(2 * 0.7 * math.sqrt(pd.kp[0] * joint_inertia(furuta)[0]))
        # it pushes back towards the default pose, in volts
        u = pd.to_command(pd.torque(at_rest(furuta, 0.0, q=[0.5, 0.0])))
        assert u[0] == pytest.approx(-pd.kp[0] * 0.5 * 8.4 / 0.042)

    def test_commands_stay_within_the_command_limits(self, furuta):
        policy = ExcitationPolicy(furuta, "steps", 1.0, amplitude=1.0)
        u = [policy.step_reading(at_rest(furuta, 0.1 * k, q=[2.4, 0.0]))[0] for k in range(10)]
        assert max(np.abs(u)) <= 10.0

    @pytest.mark.parametrize(
        ("kind", "amplitude", "message"),
        [
            ("noise", None, "unknown excitation"),
            ("chirp", 1.5, "fraction of the limit"),
            ("chirp", -1.0, "positive"),
        ],
    )
    def test_bad_settings(self, furuta, kind, amplitude, message):
        with pytest.raises(Sim2RealError, match=message):
            ExcitationPolicy(furuta, kind, 1.0, amplitude=amplitude)

    def test_signal_follows_reading_time_not_calls(self, furuta):
        policy = ExcitationPolicy(furuta, "chirp", 1.0)
        a = policy.step_reading(at_rest(furuta, 0.0))
        b = policy.step_reading(at_rest(furuta, 0.1))
        again = ExcitationPolicy(furuta, "chirp", 1.0)
        again.step_reading(at_rest(furuta, 0.0))
        assert again.step_reading(at_rest(furuta, 0.1)) == pytest.approx(b)
        assert a != pytest.approx(b)

    def test_non_finite_reading_is_reported_like_the_runner_does(self, furuta):
        policy = ExcitationPolicy(furuta, "chirp", 1.0)
        policy.step_reading(Reading(t=0.0, q=[math.nan, 0.0], qd=[0.0, 0.0]))
        assert policy.last_input_finite is False


class TestOnTheTwin:
    @pytest.mark.parametrize(("kind", "seconds"), [("chirp", 4.0), ("prbs", 2.0), ("steps", 2.0)])
    def test_the_furuta_arm_stays_inside_its_limits(self, furuta, tmp_path, kind, seconds):
        q0, _ = initial_state(furuta, 0)
        summary = record(
            twin(furuta, initial_qpos=q0), ExcitationPolicy(furuta, kind, seconds), seconds, tmp_path / kind
        )
        assert not summary["safety"]["latched"]
        tr = read_bag(tmp_path / kind, expected_hash=furuta.hash, require_commands=True)
        arm = tr.q[:, 0]
        assert np.abs(arm).max() < 0.5 * 2.5  # the centering PD keeps it well inside +-2.5 rad
        assert np.abs(arm).max() > 0.1  # and it was excited
        assert np.abs(tr.command[:, 0]).max() > 3.0

    def test_the_bag_describes_the_excitation(self, furuta, tmp_path):
        policy = ExcitationPolicy(furuta, "chirp", 0.5, seed=4)
        record(twin(furuta), policy, 0.5, tmp_path / "bag", meta={"note": "test"})
        tr = read_bag(tmp_path / "bag")
        assert tr.meta["origin"] == "sim2real.record" and tr.meta["note"] == "test"
        assert tr.meta["policy"]["excitation"] == "chirp" and tr.meta["policy"]["seed"] == 4
        assert "centering_pd" in tr.meta["policy"]
        assert tr.meta["speed"]["start_stage"] == 4  # an excitation runs at the full stage
        assert len(tr.command_t) == 250

    def test_the_quadruped_keeps_standing_under_pd_excitation(self, quadruped, tmp_path):
        summary = record(twin(quadruped), ExcitationPolicy(quadruped, "chirp", 3.0), 3.0, tmp_path / "q")
        assert not summary["safety"]["latched"]
        tr = read_bag(tmp_path / "q")
        offsets = tr.command - quadruped.default_pose
        assert np.abs(offsets).max() <= 0.1 + 1e-9
        assert tr.gyro.shape[0] == tr.n_samples

    def test_initial_state_is_the_tasks(self, furuta, quadruped):
        q, qd = initial_state(furuta, 0)
        assert q[1] == pytest.approx(math.pi, abs=0.11) and np.abs(qd).max() <= 0.2
        q, _ = initial_state(quadruped, 0)
        np.testing.assert_allclose(q, quadruped.default_pose, rtol=0.11)

    def test_a_start_near_a_safety_limit_stays_halfway_inside_it(self, spec_variant):
        """Calves 0.03 rad inside their upper limit: the task's reset (x U(0.9, 1.1), clipped onto the
        limit) started them on it, where the first reading's encoder noise safe-stopped the run
        (gymnasium's Ant in the fault suite); the start keeps half of that room."""
        from sim2real.robots import load_robot

        def near(raw):
            for leg in ("FL", "FR", "RL", "RR"):
                raw["safety"]["joint_position"][f"{leg}_calf"] = [-2.67, -1.47]

        spec = load_robot(spec_variant("quadruped", near))
        calves = [spec.joints.index(f"{leg}_calf") for leg in ("FL", "FR", "RL", "RR")]
        starts = np.array([initial_state(spec, seed)[0] for seed in range(20)])
        assert np.all(starts[:, calves] <= -1.5 + 0.015 + 1e-12)
        assert np.ptp(starts[:, calves]) > 0.01  # still spread below the default

    def test_a_chirps_fastest_target_keeps_within_half_the_joints_speed_limit(self, spec_variant):
        """example-robot-data's ANYmal C (7.5 rad/s) hung: the default 0.3 rad chirp sweeping to 5 Hz asked
        9.4 rad/s of its targets and safe-stopped 0.22 s into the recording; the embedded quadruped's
        30 rad/s keeps its 0.3 rad."""
        from sim2real.deploy.excitation import CHIRP_TOP_HZ
        from sim2real.deploy.record import FIXED_BASE_AMPLITUDE, PD_SPEED_FRACTION
        from sim2real.robots import load_robot

        def slow_hips(raw):
            for leg in ("FL", "FR", "RL", "RR"):
                raw["safety"]["joint_velocity"][f"{leg}_hip"] = 7.5

        spec = load_robot(spec_variant("quadruped", slow_hips))
        policy = ExcitationPolicy(spec, "chirp", 4.0, per_joint=True)
        hips = np.array(["_hip" in a.joint for a in spec.actuators])
        expected = PD_SPEED_FRACTION * 7.5 / (2 * np.pi * CHIRP_TOP_HZ)
        np.testing.assert_allclose(policy.scale[hips], expected)
        assert np.all(policy.scale[~hips] == pytest.approx(FIXED_BASE_AMPLITUDE))
        targets = policy.scale * policy.signal  # the hips' fastest target speed, as the signal steps
        speed = np.abs(np.diff(targets, axis=0)).max(axis=0) / spec.control_dt
        assert speed[hips].max() <= PD_SPEED_FRACTION * 7.5 * 1.01
        assert ExcitationPolicy(spec, "prbs", 4.0, per_joint=True).scale[hips] == pytest.approx(FIXED_BASE_AMPLITUDE)


class TestRecordCommand:
    def test_record_chirp_json(self, tmp_path, capsys):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        code = main(
            [
                "record",
                "--robot",
                "furuta",
                "--twin",
                str(tmp_path / "twin.yaml"),
                "--excite",
                "chirp",
                "--seconds",
                "1",
                "--out",
                str(tmp_path / "log"),
                "--amplitude",
                "0.3",
                "--seed",
                "2",
                "--json",
            ]
        )
        captured = capsys.readouterr()
        assert code == 0
        summary = json.loads(captured.out)
        assert summary["ticks"] == 500 and summary["bag"] == str(tmp_path / "log")
        tr = read_bag(tmp_path / "log", expected_hash=load_robot("furuta").hash)
        assert tr.meta["policy"]["amplitude"] == [0.3] and tr.meta["twin"]["params"][
            "body.pendulum.mass"
        ] == [0.026]
        assert tr.meta["twin"]["start"]["q"][1] == pytest.approx(math.pi, abs=0.11)  # starts hanging

    def test_record_a_policy(self, tmp_path, capsys):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        code = main(
            [
                "record",
                "--robot",
                "furuta",
                "--twin",
                str(tmp_path / "twin.yaml"),
                "--policy",
                str(tiny_policy("furuta")),
                "--seconds",
                "0.5",
                "--out",
                str(tmp_path / "log"),
            ]
        )
        assert code == 0 and "furuta: 250 ticks" in capsys.readouterr().out
        tr = read_bag(tmp_path / "log")
        assert tr.meta["policy"]["type"] == "PolicyRunner" and tr.meta["speed"]["start_stage"] == 0

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (["--excite", "chirp", "--policy", "p.onnx"], "exactly one of"),
            ([], "exactly one of"),
            (["--excite", "chirp", "--ros2", "--twin", "TWIN"], "not both"),
            (["--excite", "chirp", "--twin", "TWIN", "--seconds", "-1"], "--seconds: -1 is out of range"),
        ],
    )
    def test_bad_invocations_are_one_line_errors(self, tmp_path, capsys, extra, message):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        extra = [str(tmp_path / "twin.yaml") if x == "TWIN" else x for x in extra]
        code = main(["record", "--robot", "furuta", "--out", str(tmp_path / "log"), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        usage = message.startswith("--seconds")  # a typed number, checked while the command line is parsed
        assert code == (2 if usage else 1) and len(err) == 1 and message in err[0], err

    def test_a_log_that_is_mostly_safe_mode_is_said_loudly(self, tmp_path, capsys):
        """Arms with stiff gains and no armature were recorded 98 % in safe mode, and the record said
        nothing beyond its summary line; identify then fitted the braking."""
        import yaml

        from sim2real.robots import DATA_DIR

        raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
        raw["name"], raw["mjcf"] = "quadruped_low_limit", str(DATA_DIR / "quadruped.xml")
        raw["safety"]["base_height"] = [0.5, 0.9]  # it stands at 0.3 m: a stop on the first reading
        (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
        (tmp_path / "twin.yaml").write_text("params: {}\neffects: {seed: 3}\n")
        args = ["record", "--robot", str(tmp_path / "robot.yaml"), "--twin", str(tmp_path / "twin.yaml")]
        code = main([*args, "--excite", "chirp", "--seconds", "1", "--out", str(tmp_path / "log")])
        err = capsys.readouterr().err
        assert code == 0 and "of the log are in safe mode, not excitation" in err and "height" in err
        assert "--fixed-base hangs it by its base" in err  # a quadruped on the floor: the way out
        code = main(["record", "--robot", "furuta", "--twin", str(tmp_path / "twin.yaml"), "--excite", "chirp",
                     "--seconds", "0.2", "--out", str(tmp_path / "log2")])
        assert code == 0 and "safe mode, not excitation" not in capsys.readouterr().err

    def test_an_existing_log_is_never_overwritten(self, tmp_path, capsys):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        (tmp_path / "log").mkdir()
        code = main(
            [
                "record",
                "--robot",
                "furuta",
                "--twin",
                str(tmp_path / "twin.yaml"),
                "--excite",
                "chirp",
                "--out",
                str(tmp_path / "log"),
            ]
        )
        assert code == 1 and "exists already" in capsys.readouterr().err

    def test_a_killed_recording_leaves_a_bag_both_readers_read(self, tmp_path):
        (tmp_path / "twin.yaml").write_text(TWIN_YAML)
        bag = tmp_path / "log"
        ticks = run_until_ticks_then_kill(
            [
                "record",
                "--robot",
                "furuta",
                "--twin",
                str(tmp_path / "twin.yaml"),
                "--excite",
                "chirp",
                "--seconds",
                "1000",
                "--out",
                str(bag),
            ],
            min_ticks=200,
            stderr_path=tmp_path / "stderr.txt",
        )
        assert ticks >= 200
        assert killed_before_closing(bag)
        tr = read_bag(bag, expected_hash=load_robot("furuta").hash, require_commands=True)
        assert tr.meta["complete"] is False and tr.n_samples >= 0.95 * ticks
        assert tr.meta["policy"]["excitation"] == "chirp"
        by_rosbags, by_mcap = read_with_both_readers(bag)
        assert by_rosbags == by_mcap
        assert by_rosbags["/joint_commands"] >= ticks and by_rosbags["/sim2real/meta"] == 1


def test_centering_pd_ignores_pd_joints(quadruped):
    pd = CenteringPD(quadruped, np.ones(12))
    assert np.all(pd.kp == 0) and np.all(pd.to_command(np.ones(12)) == 0)


class TestLegged:
    def test_per_joint_chirps_are_smooth_and_apart(self):
        t = 0.02 * np.arange(3001)
        s = per_joint_chirp(t, 12)
        assert np.abs(s).max() <= 1.0 and np.abs(np.diff(s, axis=0)).max() < 0.7  # no jumps at 50 Hz
        corr = np.corrcoef(s.T)
        assert np.abs(corr[np.triu_indices(12, 1)]).max() < 0.2  # no two joints move alike

    def test_the_hung_spec_checks_joints_only_under_the_same_hash(self, quadruped):
        hung = fixed_base_spec(quadruped)
        assert hung.hash == quadruped.hash
        assert hung.safety.tilt is None and hung.safety.base_height_low is None
        np.testing.assert_array_equal(hung.safety.position_low, quadruped.safety.position_low)
        with pytest.raises(Sim2RealError, match="no floating base"):
            fixed_base_spec(load_robot("furuta"))

    def test_trot_targets_follow_the_leg_kinematics(self, quadruped):
        gait = TrotGait(quadruped)
        feet0, _ = gait.kin.feet(gait.q0)
        quarter = gait.period / 4  # FL and RR in mid stance, FR and RL in mid swing
        feet, _ = gait.kin.feet(gait.joint_targets(gait.period + quarter))
        lift = feet[:, 2] - feet0[:, 2]
        assert lift[1] == pytest.approx(gait.lift, abs=1e-3) and lift[2] == pytest.approx(gait.lift, abs=1e-3)
        assert abs(lift[0]) < 1e-3 and abs(lift[3]) < 1e-3
        with pytest.raises(Sim2RealError, match="legged robot"):
            TrotGait(load_robot("furuta"))

    def test_record_fixed_base_hangs_the_twin_and_excites_every_joint(self, tmp_path, capsys, quadruped):
        (tmp_path / "twin.yaml").write_text("params: {}\n")
        args = ["record", "--robot", "quadruped", "--twin", str(tmp_path / "twin.yaml"), "--fixed-base"]
        code = main([*args, "--excite", "chirp", "--seconds", "2", "--out", str(tmp_path / "log"), "--json"])
        summary = json.loads(capsys.readouterr().out)
        assert code == 0 and summary["safety"]["events"] == 0
        tr = read_bag(tmp_path / "log", expected_hash=quadruped.hash)
        assert tr.meta["fixed_base"] is True and tr.meta["policy"]["per_joint"] is True
        assert tr.base is None  # a hung base does not move: nothing to estimate
        assert np.ptp(tr.q, axis=0).min() > 0.2  # 0.3 rad chirps on every joint

    def test_a_trot_at_a_low_stage_slows_its_joint_targets(self, tmp_path, capsys):
        # the quadruped's spec has a velocity command, which the trot ignores: a stage that scaled it
        # slowed nothing, and the stage speed cap then stopped the trot ("the policy does not slow down")
        (tmp_path / "twin.yaml").write_text("params: {}\n")
        args = ["record", "--robot", "quadruped", "--twin", str(tmp_path / "twin.yaml"), "--excite", "trot"]
        code = main([*args, "--speed", "0", "--seconds", "2", "--out", str(tmp_path / "log"), "--json"])
        summary = json.loads(capsys.readouterr().out)
        safety = summary["safety"]
        assert code == 0 and not safety["latched"] and "stage_speed" not in safety["counters"]
        assert safety["counters"].get("velocity_limit", 0) > 0  # the 10 % target speed limit shapes the trot

    def test_a_velocity_tracking_policy_records_under_its_command(self, tmp_path, capsys, quadruped):
        """record took no --velocity-command: a walking policy could only be recorded standing still."""
        from sim2real.policy.linear import write_linear_policy

        (tmp_path / "twin.yaml").write_text("params: {}\n")
        policy = write_linear_policy(quadruped, tmp_path / "zero.onnx")
        args = ["record", "--robot", "quadruped", "--twin", str(tmp_path / "twin.yaml"), "--policy", str(policy)]
        code = main([*args, "--velocity-command", "0.4", "0", "0.2", "--seconds", "0.2", "--out", str(tmp_path / "log")])
        assert code == 0, capsys.readouterr().err
        tr = read_bag(tmp_path / "log")
        assert tr.meta["velocity_command"] == [0.4, 0.0, 0.2]
        first = next(e for e in tr.events if e.kind == "velocity_command")
        np.testing.assert_allclose(first.detail["velocity_command"], [0.04, 0.0, 0.02])  # at the 10 % stage
        code = main(["record", "--robot", "quadruped", "--twin", str(tmp_path / "twin.yaml"), "--excite", "chirp",
                     "--velocity-command", "0.4", "0", "0", "--out", str(tmp_path / "log2")])
        assert code == 1 and "--velocity-command applies to --policy" in capsys.readouterr().err

    def test_a_robot_on_the_floor_logs_its_estimated_and_true_base_state(self, tmp_path, quadruped):
        twin = TwinRobot(quadruped, TwinConfig())
        record(twin, ExcitationPolicy(quadruped, "chirp", 1.0), 1.0, tmp_path / "log")
        tr = read_bag(tmp_path / "log")
        assert tr.base_truth is not None and tr.base_estimate is not None
        np.testing.assert_allclose(tr.base_estimate.t, tr.t)

    @pytest.mark.parametrize(
        ("robot", "extra", "message"),
        [
            ("furuta", ["--excite", "chirp"], "no floating base"),
            ("quadruped", ["--excite", "trot"], "cannot go with --fixed-base"),
        ],
    )
    def test_bad_fixed_base_invocations_are_one_line_errors(self, tmp_path, capsys, robot, extra, message):
        (tmp_path / "twin.yaml").write_text("params: {}\n")
        args = ["record", "--robot", robot, "--twin", str(tmp_path / "twin.yaml"), "--fixed-base", *extra]
        code = main([*args, "--out", str(tmp_path / "log")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and message in err[0], err


class TestNearALimit:
    """robot init keeps one margin (0.05 rad) between a default pose near its range's edge and the safety
    limit (a GR1T2's hip roll at 0 of [-0.09, 0.79]): the chirp's targets, clipped only at the limit, ran
    the joint onto it and `record --fixed-base` stopped 0.16 s in."""

    @pytest.fixture
    def near(self, tmp_path, quadruped):
        text = quadruped.path.read_text().replace("    FL_hip: [-1.0, 1.0]", "    FL_hip: [-0.05, 1.0]", 1)
        text = text.replace(  # a stiff hip (GR1T2's kp 200): the leg hung by the base does not sag onto the limit
            "FL_hip:   {actuator: FL_hip, model: pd, kp: 25.0, kd: 0.5,", "FL_hip:   {actuator: FL_hip, model: pd, kp: 200.0, kd: 2.0,", 1
        )
        assert "FL_hip: [-0.05, 1.0]" in text and "kp: 200.0" in text
        (tmp_path / "near.yaml").write_text(text.replace("mjcf: quadruped.xml", "mjcf: near.xml"))
        (tmp_path / "near.xml").write_text(quadruped.mjcf_path.read_text())
        return load_robot(str(tmp_path / "near.yaml"))

    def test_pd_targets_keep_half_the_room_to_each_limit(self, near):
        policy = ExcitationPolicy(near, "chirp", 2.0, per_joint=True)
        u = np.array([policy.step_reading(at_rest(near, k * near.control_dt)) for k in range(101)])
        offset = u[:, 0] - near.default_pose[0]
        assert offset.min() == pytest.approx(-0.025, abs=1e-3)  # half the 0.05 rad room below
        assert offset.max() == pytest.approx(policy.scale[0], rel=0.05)  # the full amplitude above
        assert policy.describe()["command_amplitude_low"][0] == pytest.approx(0.025)

    def test_record_fixed_base_runs_without_a_safety_event(self, near, tmp_path, capsys):
        (tmp_path / "twin.yaml").write_text("params: {}\n")
        args = ["record", "--robot", str(near.path), "--twin", str(tmp_path / "twin.yaml"), "--fixed-base"]
        code = main([*args, "--excite", "chirp", "--seconds", "2", "--out", str(tmp_path / "log"), "--json"])
        summary = json.loads(capsys.readouterr().out)
        assert code == 0 and summary["safety"]["events"] == 0, summary["safety"]
