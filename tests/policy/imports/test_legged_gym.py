"""`sim2real import legged-gym`: TorchScript policies with a MuJoCo deploy config.

The Unitree H1 (its upstream files unedited, from ../shared/data/foreign) is the acceptance case:
import, then sim2sim against the upstream MuJoCo recipe run here, a twin deployment and the fault
suite.  Scripted policies made here (an MLP, an LSTM exporter like legged_gym's) cover the format
without the shared data.
"""

from __future__ import annotations

import json
import math

import mujoco
import numpy as np
import pytest
import yaml
from foreign_fixtures import legged_gym_config

from sim2real.cli import main
from sim2real.errors import PolicyError
from sim2real.policy.imports.legged_gym import import_legged_gym, layout
from sim2real.policy.metadata import read_metadata
from sim2real.policy.runtime import PolicyRunner
from sim2real.real.protocol import Command
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import DATA_DIR

torch = pytest.importorskip("torch", reason="importing TorchScript policies needs the train extra (torch)")

QUADRUPED = DATA_DIR / "quadruped.xml"


def run_cli(args: list[str], capsys) -> tuple[int, dict]:
    code = main([*args, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


# ----------------------------------------------------------------------------------------- H1
@pytest.fixture(scope="module")
def h1(h1_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("h1_import")
    code = main(
        [
            "import",
            "legged-gym",
            "--policy",
            str(h1_dir / "motion.pt"),
            "--config",
            str(h1_dir / "deploy_mujoco_h1.yaml"),
            "--model",
            str(h1_dir / "scene.xml"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def upstream_recipe(h1_dir, seconds: float, command=(0.5, 0.0, 0.0)) -> float:
    """unitree_rl_gym's MuJoCo sim2sim of the H1 (the facts of ../shared/data/foreign/README.md):
    plain MuJoCo and torch.jit, physics at 0.002 s, PD torques in Python each physics step, the policy
    every 10 steps; returns the mean forward velocity over the second half (heading frame)."""
    cfg = yaml.safe_load((h1_dir / "deploy_mujoco_h1.yaml").read_text())
    model = mujoco.MjModel.from_xml_path(str(h1_dir / "scene.xml"))
    data = mujoco.MjData(model)
    model.opt.timestep = cfg["simulation_dt"]
    policy = torch.jit.load(str(h1_dir / "motion.pt"))
    kps, kds = np.array(cfg["kps"]), np.array(cfg["kds"])
    default = np.array(cfg["default_angles"])
    n = cfg["num_actions"]
    action = np.zeros(n)
    target = default.copy()
    cmd = np.array(command)
    steps = round(seconds / cfg["simulation_dt"])
    vx = []
    for counter in range(1, steps + 1):
        data.ctrl[:] = kps * (target - data.qpos[7:]) - kds * data.qvel[6:]
        mujoco.mj_step(model, data)
        if counter % cfg["control_decimation"] == 0:
            qw, qx, qy, qz = data.qpos[3:7]
            gravity = [2 * (-qz * qx + qw * qy), -2 * (qz * qy + qw * qx), 1 - 2 * (qw * qw + qz * qz)]
            phase = (counter * cfg["simulation_dt"]) % 0.8 / 0.8
            obs = np.concatenate(
                [
                    data.qvel[3:6] * cfg["ang_vel_scale"],
                    gravity,
                    cmd * np.array(cfg["cmd_scale"]),
                    (data.qpos[7:] - default) * cfg["dof_pos_scale"],
                    data.qvel[6:] * cfg["dof_vel_scale"],
                    action,
                    [math.sin(2 * math.pi * phase), math.cos(2 * math.pi * phase)],
                ]
            ).astype(np.float32)
            with torch.no_grad():
                action = policy(torch.from_numpy(obs).unsqueeze(0)).numpy().squeeze()
            target = action * cfg["action_scale"] + default
            yaw = math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
            vx.append(math.cos(yaw) * data.qvel[0] + math.sin(yaw) * data.qvel[1])
    return float(np.mean(vx[len(vx) // 2 :]))


@pytest.mark.slow(seconds=150)
class TestUnitreeH1:
    def test_import_gives_a_recurrent_policy_with_the_gait_clock(self, h1):
        meta = read_metadata(h1 / "policy.onnx")
        assert [t.name for t in meta.observation][-1] == "gait_phase"
        assert dict(meta.observation[-1].params) == {"period": 0.8, "offset": 0.0}
        assert meta.n_obs == 41 and meta.n_act == 10 and len(meta.recurrent) == 2
        assert meta.export_check["max_abs_diff"] <= 1e-5 and meta.export_check["n_recorded"] > 0
        assert meta.action_limit is None and meta.imported["framework"] == "legged_gym"
        assert meta.control_dt == pytest.approx(0.02)

    @pytest.mark.slow
    def test_sim2sim_walks_like_the_upstream_recipe_and_passes_the_gate(self, h1, h1_dir, capsys):
        code, result = run_cli(
            [
                "sim2sim",
                "--robot",
                str(h1 / "robot.yaml"),
                "--policy",
                str(h1 / "policy.onnx"),
                "--velocity-command",
                "0.5",
                "0",
                "0",
                "--seconds",
                "20",
                "--check",
            ],
            capsys,
        )
        upstream = upstream_recipe(h1_dir, 20.0)
        nominal = result["nominal"]
        assert not nominal["fell"] and not result["check"]["fell"]
        assert abs(nominal["mean_base_velocity"][0] - upstream) < 0.05, (
            nominal["mean_base_velocity"],
            upstream,
        )
        assert upstream > 0.4  # the recipe itself walks (the lead measured 0.471 m/s)
        assert code == 0 and result["gate"]["passed"], result["gate"]

    @pytest.mark.slow
    def test_twin_deployment_with_a_heavier_pelvis_and_delay_ends_without_a_safe_stop(
        self, h1, tmp_path, capsys
    ):
        twin = tmp_path / "twin.yaml"
        twin.write_text("params:\n  body.pelvis.mass: 32.8317\n  actuator.*.delay: 0.004\n")  # +10 %, 4 ms
        code, summary = run_cli(
            [
                "deploy",
                "--robot",
                str(h1 / "robot.yaml"),
                "--policy",
                str(h1 / "policy.onnx"),
                "--twin",
                str(twin),
                "--seconds",
                "20",
                "--velocity-command",
                "0.5",
                "0",
                "0",
                "--out",
                str(tmp_path / "log"),
            ],
            capsys,
        )
        assert code == 0 and summary["ticks"] == 1000
        assert not summary["safety"]["latched"] and summary["safety"]["ticks_by_mode"]["safe"] == 0

    @pytest.mark.slow
    def test_record_and_gap_work_for_the_biped(self, h1, tmp_path, capsys):
        twin = tmp_path / "twin.yaml"
        twin.write_text("params:\n  body.pelvis.mass: 32.8317\n")
        log = tmp_path / "log"
        code, summary = run_cli(
            [
                "record",
                "--robot",
                str(h1 / "robot.yaml"),
                "--twin",
                str(twin),
                "--policy",
                str(h1 / "policy.onnx"),
                "--seconds",
                "2",
                "--out",
                str(log),
            ],
            capsys,
        )
        assert code == 0 and not summary["safety"]["latched"]
        code, gap = run_cli(["gap", "--robot", str(h1 / "robot.yaml"), str(log), "--horizon", "0.1"], capsys)
        assert code == 0 and gap["windows"] > 0 and len(gap["position_rmse_per_joint"]) == 10
        assert 0.0 < gap["position_rmse"] < 0.2  # the twin's heavier pelvis against the nominal model [rad]

    def test_faults_detects_every_case_with_no_unsafe_command(self, h1, capsys):
        code, result = run_cli(
            ["faults", "--robot", str(h1 / "robot.yaml"), "--policy", str(h1 / "policy.onnx")], capsys
        )
        failed = [c for c in result["cases"] if not c.get("passed")]  # named in the message: a rare loaded-run failure
        assert code == 0 and result["all_detected"] and result["unsafe_commands_total"] == 0, (failed, result.get("quiet"))
        assert {"tilt", "height"} <= {c["name"] for c in result["cases"]}  # the biped's own cases ran


    def test_preflight_runs_hung_by_the_base_where_the_gains_cannot_carry_the_biped(
        self, h1, tmp_path, capsys, monkeypatch
    ):
        from sim2real.deploy.preflight import _Runner, check_hold_and_collision
        from sim2real.robots import load_robot

        monkeypatch.setenv("SIM2REAL_STATE_DIR", str(tmp_path / "state"))
        spec = load_robot(h1 / "robot.yaml")
        twin = TwinRobot(spec, TwinConfig(effects=TwinEffects(seed=1)))
        standing, _ = check_hold_and_collision(_Runner(spec, twin, False, twin.reset))
        # the H1's PD gains do not carry it in the default pose (its policy balances it): it sags
        assert standing.status == "fail" and "--fixed-base" in standing.evidence, standing.evidence
        twin_file = tmp_path / "twin.yaml"
        TwinConfig(effects=TwinEffects(seed=1)).save(twin_file)
        code, result = run_cli(
            ["preflight", "--robot", str(h1 / "robot.yaml"), "--policy", str(h1 / "policy.onnx"),
             "--twin", str(twin_file), "--confirm", "perimeter", "--fixed-base"],
            capsys,
        )
        items = {i["name"]: i for i in result["items"]}
        assert code == 0 and result["passed"] and result["fixed_base"], [
            (i["name"], i["evidence"]) for i in result["items"] if i["status"] != "pass"
        ]
        assert "hung by the base" in items["zero_action_hold"]["evidence"]
        assert items["zero_action_hold"]["max_deviation_rad"] < 0.1
        record = json.loads((tmp_path / "state" / "preflight.jsonl").read_text().splitlines()[-1])
        assert record["fixed_base"] is True and record["spec_hash"] == spec.hash  # the same robot


# ------------------------------------------------------------------ format, without shared data
def scripted_mlp(tmp_path, n_obs=48, n_act=12):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(n_obs, 32), torch.nn.ELU(), torch.nn.Linear(32, n_act))
    path = tmp_path / "policy.pt"
    torch.jit.script(net).save(str(path))
    return path


class LstmExporter(torch.nn.Module):
    """legged_gym's recurrent exporter, as its TorchScript files hold it: the state in buffers."""

    def __init__(self, n_obs: int, n_act: int) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.actor = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ELU(), torch.nn.Linear(16, n_act))
        self.memory = torch.nn.LSTM(n_obs, 16, 1)
        self.register_buffer("hidden_state", torch.zeros(1, 1, 16))
        self.register_buffer("cell_state", torch.zeros(1, 1, 16))

    def forward(self, x):
        out, (h, c) = self.memory(x.unsqueeze(0), (self.hidden_state, self.cell_state))
        self.hidden_state[:] = h
        self.cell_state[:] = c
        return self.actor(out.squeeze(0))

    @torch.jit.export
    def reset_memory(self):
        self.hidden_state[:] = 0.0
        self.cell_state[:] = 0.0


class TestLeggedGymFormat:
    def test_a_quadruped_layout_starts_with_the_base_linear_velocity(self, tmp_path):
        result = import_legged_gym(
            scripted_mlp(tmp_path), legged_gym_config(tmp_path), QUADRUPED, tmp_path / "out", torque_limit=23.7
        )
        spec = result.spec
        assert [t.name for t in spec.observation] == [
            "base_lin_vel",
            "base_ang_vel",
            "projected_gravity",
            "velocity_command",
            "joint_pos_rel",
            "joint_vel",
            "last_action",
        ]
        assert spec.observation[0].scale == 2.0 and spec.observation[3].scale == (2.0, 2.0, 0.25)
        assert spec.control_dt == pytest.approx(0.02) and spec.substeps == 4
        assert result.max_abs_diff <= 1e-5
        # on a robot the base velocity comes with the reading (the twin gives its own)
        runner = PolicyRunner(result.policy, spec, providers="cpu")
        robot = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        reading = robot.read()
        runner.step_reading(reading, np.array([0.5, 0.0, 0.0]))
        np.testing.assert_allclose(runner.observation[:3], 2.0 * reading.base_lin_vel, atol=1e-6)

    def test_the_lstm_state_is_carried_from_step_to_step_and_cleared_by_reset(self, tmp_path):
        path = tmp_path / "lstm.pt"
        torch.jit.script(LstmExporter(45, 12)).save(str(path))
        result = import_legged_gym(
            path, legged_gym_config(tmp_path, num_obs=45), QUADRUPED, tmp_path / "out", torque_limit=23.7
        )
        assert len(result.metadata.recurrent) == 2 and result.max_abs_diff <= 1e-5
        runner = PolicyRunner(result.policy, result.spec, providers="cpu")
        q, qd = result.spec.default_pose.copy(), np.zeros(12)
        gyro, quat, cmd = np.zeros(3), np.array([1.0, 0, 0, 0]), np.array([0.3, 0, 0])
        first = runner.step(q, qd, gyro, quat, cmd).copy()
        assert np.abs(runner.recurrent_state[0]).max() > 0
        runner.step(q, qd, gyro, quat, cmd)
        runner.reset()
        assert np.abs(runner.recurrent_state[0]).max() == 0
        np.testing.assert_array_equal(runner.step(q, qd, gyro, quat, cmd), first)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"num_obs": 50}, "num_obs 50 fits no layout this importer knows for num_actions 12"),
            ({"kps": [25.0] * 11}, "kps has 11 values for 12 policy joints"),
            ({"num_obs": 45}, "the policy takes 48 observations"),
            ({"n_act": 11}, "the policy gives 11 actions, deploy.yaml says num_actions 12"),
            (  # joint-major order on a leg-major model: before, clipped into the ranges and imported
                {"default_angles": [0.0] * 4 + [0.8] * 4 + [-1.5] * 4},
                "the default position 0 of policy joint 'FL_calf' is outside its range",
            ),
        ],
    )
    def test_bad_imports_are_one_clear_line(self, tmp_path, capsys, changes, message):
        code = main(
            [
                "import",
                "legged-gym",
                "--policy",
                str(scripted_mlp(tmp_path, n_act=changes.pop("n_act", 12))),
                "--config",
                str(legged_gym_config(tmp_path, **changes)),
                "--model",
                str(QUADRUPED),
                "--out",
                str(tmp_path / "out"),
                "--torque-limit",
                "23.7",
            ]
        )
        errors = [
            line for line in capsys.readouterr().err.splitlines() if line.startswith("sim2real: error:")
        ]
        assert code == 1 and len(errors) == 1 and message in errors[0], errors

    def test_layout_names_what_it_assumes(self):
        base = {
            "num_actions": 12,
            "ang_vel_scale": 0.25,
            "dof_pos_scale": 1.0,
            "dof_vel_scale": 0.05,
            "cmd_scale": [2.0, 2.0, 0.25],
        }
        terms, assumed = layout({**base, "num_obs": 47}, "c")
        assert terms[-1].name == "gait_phase" and "0.8 s" in assumed[0]
        terms, _ = layout({**base, "num_obs": 45, "period": 0.6}, "c")
        assert [t.name for t in terms][-1] == "last_action"
        with pytest.raises(PolicyError, match="fits no layout"):
            layout({**base, "num_obs": 46}, "c")


class TestJointsThePolicyDoesNotDrive:
    def test_they_are_locked_at_their_default_positions_in_simulation(self, tmp_path):
        cfg = legged_gym_config(
            tmp_path,
            num_actions=9,
            num_obs=36,
            kps=[25.0] * 9,
            kds=[0.5] * 9,
            default_angles=[0.0, 0.8, -1.5] * 3,
        )
        result = import_legged_gym(
            scripted_mlp(tmp_path, 36, 9), cfg, QUADRUPED, tmp_path / "out", torque_limit=23.7
        )
        spec = result.spec
        assert set(spec.locked_joints) == {"RR_hip", "RR_thigh", "RR_calf"} and spec.n_joints == 9
        assert any("locks 3 joints" in o for o in spec.overrides)
        assert any("held at their default positions" in a for a in result.metadata.imported["assumptions"])
        import mujoco

        robot = TwinRobot(spec, TwinConfig(effects=TwinEffects.none()))
        for _ in range(50):
            robot.write(Command(t=robot.now(), values=np.asarray(spec.default_pose)))
        for joint, hold in spec.locked_joints.items():
            q = robot.data.qpos[
                robot.model.jnt_qposadr[mujoco.mj_name2id(robot.model, mujoco.mjtObj.mjOBJ_JOINT, joint)]
            ]
            assert abs(q - hold) < 0.02, (joint, q, hold)
