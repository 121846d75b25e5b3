"""Rough-terrain policies: Isaac Lab's ``height_scan`` and legged_gym's height measurements imported,
their scan cast by MuJoCo rays on the twin, in sim2sim and in ``deploy --twin``.

The robot stands in a scene with a 0.1 m step ahead of it on its left (x 0.45..0.65 m, y
0.15..0.35 m: off the grid's lines), so that the rays over it pin the grid's order end to end.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from foreign_fixtures import _export, isaaclab_env_yaml, legged_gym_config

from sim2real.cli import main
from sim2real.deploy.loop_build import check_height_scan
from sim2real.deploy.record import fixed_base_spec
from sim2real.envs.core import TaskEnv
from sim2real.errors import PolicyError, Sim2RealError
from sim2real.gap.sim2sim import run_sim2sim
from sim2real.policy.imports.isaaclab import import_isaaclab
from sim2real.policy.imports.legged_gym import import_legged_gym
from sim2real.policy.runtime import PolicyRunner
from sim2real.randomize.distributions import Distribution
from sim2real.randomize.schema import TerrainConfig
from sim2real.randomize.terrain import TerrainHook
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import DATA_DIR, load_robot
from sim2real.tasks import get_task

torch = pytest.importorskip("torch", reason="the synthetic policies are made with torch")

XS = [round(-0.8 + 0.1 * i, 1) for i in range(17)]
YS = [round(-0.5 + 0.1 * i, 1) for i in range(11)]
STEP_TOP = 0.1

RAY_CASTER = """  height_scanner:
    class_type: isaaclab.sensors.ray_caster.ray_caster:RayCaster
    prim_path: '{ENV_REGEX_NS}/Robot/base'
    update_period: 0.02
    offset: {pos: !!python/tuple [0.0, 0.0, 20.0], rot: !!python/tuple [1.0, 0.0, 0.0, 0.0]}
    attach_yaw_only: null
    ray_alignment: yaw
    pattern_cfg:
      func: isaaclab.sensors.ray_caster.patterns.patterns:grid_pattern
      resolution: 0.1
      size: [1.6, 1.0]
      direction: !!python/tuple [0.0, 0.0, -1.0]
      ordering: xy
    mesh_prim_paths: [/World/ground]
    max_distance: 1000000.0
"""
"""Isaac Lab's rough velocity task's ray caster as env.yaml dumps it."""

HEIGHT_SCAN = """    height_scan:
      func: isaaclab.envs.mdp.observations:height_scan
      params: {sensor_cfg: {name: height_scanner, joint_names: null, body_names: null}}
      modifiers: null
      noise: !!python/object:isaaclab.utils.noise.noise_cfg.UniformNoiseCfg {n_min: -0.1, n_max: 0.1}
      clip: !!python/tuple [-1.0, 1.0]
      scale: null
      history_length: 0
      flatten_history_dim: true
"""


def scene(folder):
    """The embedded quadruped with a step ahead of it on its left (the scene's terrain: it collides)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (DATA_DIR / "quadruped.xml").read_text()
    floor = text.index('<geom name="floor"')
    step = (  # it collides, as the floor does (the model's default geom collides with nothing)
        f'<geom name="step" type="box" pos="0.55 0.25 {STEP_TOP / 2}" size="0.1 0.1 {STEP_TOP / 2}" '
        'contype="1" conaffinity="0"/>\n    '
    )
    path = folder / "scene.xml"
    path.write_text(text[:floor] + step + text[floor:])
    return path


def mlp(n_obs: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(n_obs, 32), torch.nn.ELU(), torch.nn.Linear(32, 12))


@pytest.fixture(scope="module")
def isaac(tmp_path_factory):
    """An Isaac Lab rough-terrain policy (its env.yaml), imported."""
    folder = tmp_path_factory.mktemp("isaac_scan")
    env = isaaclab_env_yaml(load_robot("quadruped"), folder / "params" / "env.yaml", history=1)
    text = (
        env.read_text()
        .replace("  height_scanner: null\n", RAY_CASTER)
        .replace("    height_scan: null\n", HEIGHT_SCAN)
    )
    env.write_text(text)
    onnx_path = _export(mlp(45 + 187), 45 + 187, folder / "exported" / "policy.onnx")
    return {"onnx": onnx_path, "result": import_isaaclab(onnx_path, env, scene(folder), folder / "imported")}


@pytest.fixture(scope="module")
def legged(tmp_path_factory):
    """A legged_gym rough-terrain policy (the quadruped layout, 48 + 187 observations), imported."""
    folder = tmp_path_factory.mktemp("legged_scan")
    path = folder / "policy.pt"
    torch.jit.script(mlp(48 + 187)).save(str(path))
    config = legged_gym_config(folder, num_obs=48 + 187, measured_points_x=XS, measured_points_y=YS)
    return import_legged_gym(path, config, scene(folder), folder / "imported", torque_limit=23.7)


def first_observation(result):
    """The observation of the twin's first reading, and the true base pose then."""
    runner = PolicyRunner(result.policy, result.spec, providers="cpu")
    robot = TwinRobot(result.spec, TwinConfig(effects=TwinEffects.none()))
    reading = robot.read()
    runner.step_reading(reading, np.array([0.5, 0.0, 0.0]))
    return runner.observation.astype(float), robot.read_base


def expected_scan(base, order: str) -> np.ndarray:
    """The base's height above the floor or the step under each grid point, in ``order``."""
    k = np.arange(len(XS) * len(YS))
    if order == "xy":
        px, py = np.array(XS)[k % len(XS)], np.array(YS)[k // len(XS)]
    else:
        px, py = np.array(XS)[k // len(YS)], np.array(YS)[k % len(YS)]
    w, x, y, z = base.quat
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    wx = base.position[0] + math.cos(yaw) * px - math.sin(yaw) * py
    wy = base.position[1] + math.sin(yaw) * px + math.cos(yaw) * py
    on_step = (wx > 0.45) & (wx < 0.65) & (wy > 0.15) & (wy < 0.35)
    assert on_step.sum() == 4
    return base.position[2] - np.where(on_step, STEP_TOP, 0.0)


class TestIsaacLabHeightScan:
    def test_the_metadata_holds_the_ray_casters_grid(self, isaac):
        isaac = isaac["result"]
        term = isaac.metadata.observation[-1]
        assert (term.name, term.size, term.scale, term.clip) == ("height_scan", 187, 1.0, (-1.0, 1.0))
        assert term.params["points_x"] == pytest.approx(XS) and term.params["points_y"] == pytest.approx(YS)
        assert term.params["order"] == "xy" and term.params["offset"] == 0.5
        assert any(
            "offset 0.5 m (mdp.height_scan's default" in a for a in isaac.metadata.imported["assumptions"]
        )
        assert isaac.max_abs_diff <= 1e-5

    def test_the_twin_scans_the_floor_and_the_step_in_isaac_labs_order(self, isaac):
        obs, base = first_observation(isaac["result"])
        expected = np.clip(expected_scan(base, "xy") - 0.5, -1.0, 1.0)
        np.testing.assert_allclose(obs[-187:], expected, atol=1e-6)

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (
                ("ray_alignment: yaw", "ray_alignment: base"),
                "sim2real casts a grid turned by the base's yaw only",
            ),
            (
                ("Robot/base'", "Robot/FL_hip'"),
                "height scanner is on body 'FL_hip', not on the model's floating base",
            ),
            (
                ("name: height_scanner,", "name: scanner,"),
                "its ray caster (params.sensor_cfg.name 'scanner') is not",
            ),
        ],
    )
    def test_what_sim2real_cannot_cast_is_one_clear_error(self, isaac, tmp_path, edit, message):
        env = isaaclab_env_yaml(load_robot("quadruped"), tmp_path / "env.yaml", history=1)
        text = (
            env.read_text()
            .replace("  height_scanner: null\n", RAY_CASTER)
            .replace("    height_scan: null\n", HEIGHT_SCAN)
        )
        assert edit[0] in text
        env.write_text(text.replace(*edit))
        with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
            import_isaaclab(isaac["onnx"], env, DATA_DIR / "quadruped.xml", tmp_path / "out")


class TestLeggedGymHeightMeasurements:
    def test_the_scan_ends_the_layout_with_legged_gyms_grid(self, legged):
        assert [t.name for t in legged.spec.observation][-2:] == ["last_action", "height_scan"]
        term = legged.metadata.observation[-1]
        assert (term.size, term.scale, term.clip, term.params["order"]) == (187, 5.0, (-1.0, 1.0), "yx")
        assert any("height scan scale 5" in a for a in legged.metadata.imported["assumptions"])

    def test_the_twin_scans_the_floor_and_the_step_in_legged_gyms_order(self, legged):
        obs, base = first_observation(legged)
        expected = 5.0 * np.clip(expected_scan(base, "yx") - 0.5, -1.0, 1.0)
        np.testing.assert_allclose(obs[-187:], expected, atol=1e-5)

    def test_a_grid_that_does_not_fit_num_obs_is_one_clear_error(self, tmp_path):
        path = tmp_path / "policy.pt"
        torch.jit.script(mlp(48 + 187)).save(str(path))
        config = legged_gym_config(
            tmp_path, num_obs=48 + 187, measured_points_x=XS[:-1], measured_points_y=YS
        )
        with pytest.raises(PolicyError, match="num_obs 59 besides the 176 of the height scan fits no layout"):
            import_legged_gym(path, config, DATA_DIR / "quadruped.xml", tmp_path / "out")

    def test_the_twin_gives_the_scan_free_and_hung_by_its_base_so_preflight_takes_it(self, legged):
        hung = TwinRobot(
            fixed_base_spec(legged.spec), TwinConfig(effects=TwinEffects.none()), fixed_base=True
        )
        for robot in (TwinRobot(legged.spec, TwinConfig(effects=TwinEffects.none())), hung):
            check_height_scan(legged.metadata.observation, robot)  # what preflight --twin checks
            scan = robot.read().height_scan
            assert scan.shape == (187,) and np.all(np.isfinite(scan)) and np.ptp(scan) > 0.05  # the step

    def test_training_with_randomized_terrain_is_refused_the_scan_would_see_the_nominal_scene(self, legged):
        task = get_task(legged.spec)
        TaskEnv(legged.spec, task, 1, seed=0)  # the scan alone runs
        rough = TerrainConfig(kind="rough", height=Distribution("uniform", (0.05,), (0.05,)), size=2.0)
        with pytest.raises(Sim2RealError, match="height-scan observation cannot run with a randomization that adds"):
            TaskEnv(legged.spec, task, 1, seed=0, hooks=(TerrainHook(rough, 0),))

    @pytest.mark.parametrize("command", ["deploy", "preflight"])
    def test_deploy_and_preflight_on_ros2_refuse_at_once_without_waiting_for_a_robot(self, legged, capsys, command):
        args = [command, "--robot", str(legged.policy.parent / "robot.yaml"), "--policy", str(legged.policy), "--ros2"]
        if command == "preflight":
            args += ["--wait", "30"]  # a wait for joint states first would take these 30 s and say "no joint states"
        assert main(args) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "observes a terrain height scan, which this robot does not give" in err[0], err

    def test_sim2sim_and_deploy_on_the_twin_run_with_the_scan(self, legged, tmp_path, capsys):
        figures = run_sim2sim(legged.spec, legged.policy, velocity_command=(0.3, 0.0, 0.0), seconds=0.3)
        assert figures["ticks"] == 15
        twin = tmp_path / "twin.yaml"
        twin.write_text("params: {}\n")
        folder = legged.policy.parent
        code = main(
            ["deploy", "--robot", str(folder / "robot.yaml"), "--policy", str(legged.policy), "--twin", str(twin),
             "--seconds", "0.2", "--out", str(tmp_path / "log"), "--json"]
        )  # fmt: skip
        summary = json.loads(capsys.readouterr().out)
        assert code == 0 and summary["ticks"] == 10
