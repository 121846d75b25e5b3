"""`sim2real import legged-gym` of a humanoid-gym (XBot-style) policy on the Unitree H1's ten leg
joints: its sectioned config (XBotLCfg's keys), a synthetic TorchScript policy on 15 stacked frames
of 3 x 10 + 11 = 41 values, the observation the deploy loop feeds the ONNX session against one
rebuilt here by hand from the twin's readings (scipy's Euler angles, humanoid-gym's zeros after a
reset, also after the loop's own reset), and ``sim2sim`` of it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from sim2real.cli import main
from sim2real.deploy.loop import LoopConfig
from sim2real.deploy.loop_build import build_loop
from sim2real.deploy.speed import DEFAULT_STAGES, SpeedConfig
from sim2real.policy.imports.legged_gym import import_legged_gym
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot

torch = pytest.importorskip("torch", reason="importing TorchScript policies needs the train extra (torch)")

N = 10
"""The H1's leg joints (its MJCF has the torso and arms rigid)."""
WIDTH = 3 * N + 11
FRAMES = 15
CYCLE = 0.64
CLIP = 18.0
COMMAND = np.array([0.4, 0.1, 0.2])
LEGS = ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle")
DEFAULT = dict(zip(LEGS, (0.0, 0.0, -0.1, 0.3, -0.2), strict=True))


def xbot_config() -> dict:
    """humanoid-gym's XBotLCfg as class_to_dict writes it, with the H1's joints, gains and pose."""
    return {
        "env": {
            "frame_stack": FRAMES,
            "c_frame_stack": 3,
            "num_single_obs": WIDTH,
            "num_observations": FRAMES * WIDTH,
            "single_num_privileged_obs": 73,
            "num_actions": N,
            "use_ref_actions": False,
        },
        "init_state": {
            "pos": [0.0, 0.0, 1.0],
            "default_joint_angles": {
                f"{side}_{j}_joint": q for side in ("left", "right") for j, q in DEFAULT.items()
            },
        },
        "control": {
            "stiffness": {"hip": 150.0, "knee": 200.0, "ankle": 40.0},
            "damping": {"hip": 2.0, "knee": 4.0, "ankle": 2.0},
            "action_scale": 0.25,
            "decimation": 5,
        },
        "sim": {"dt": 0.002, "substeps": 1},  # XBot's 0.001 x 10: the same 100 Hz policy, half the physics
        "commands": {
            "num_commands": 4,
            "heading_command": True,
            "ranges": {"lin_vel_x": [-0.3, 0.6], "lin_vel_y": [-0.3, 0.3], "ang_vel_yaw": [-0.3, 0.3]},
        },
        "rewards": {"cycle_time": CYCLE, "only_positive_rewards": True, "base_height_target": 0.89},
        "normalization": {
            "obs_scales": {"lin_vel": 2.0, "ang_vel": 1.0, "dof_pos": 1.0, "dof_vel": 0.05, "quat": 1.0},
            "clip_observations": CLIP,
            "clip_actions": CLIP,
        },
    }


def stacked_policy(path):
    """A scripted MLP on the stacked frames, small actions (it need not walk)."""
    torch.manual_seed(7)
    net = torch.nn.Sequential(torch.nn.Linear(FRAMES * WIDTH, 32), torch.nn.ELU(), torch.nn.Linear(32, N))
    with torch.no_grad():
        net[2].weight.mul_(0.2)
    torch.jit.script(net).save(str(path))
    return path


@pytest.fixture(scope="module")
def imported(h1_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("humanoid_gym")
    config = tmp / "xbot_h1.yaml"
    config.write_text(yaml.safe_dump(xbot_config()))
    return import_legged_gym(stacked_policy(tmp / "policy.pt"), config, h1_dir / "scene.xml", tmp / "out")


class RecordingTwin(TwinRobot):
    """The twin, keeping every reading it gives."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.readings: list = []

    def read(self):
        reading = super().read()
        self.readings.append(reading)
        return reading


def by_hand(reading, k: int, last_action: np.ndarray, command: np.ndarray = COMMAND) -> np.ndarray:
    """humanoid-gym's frame of step k after a reset, from a reading and the velocity command the
    loop gave (clipped to +-18 after scaling)."""
    phase = 2.0 * math.pi * k * 0.01 / CYCLE
    w, x, y, z = reading.quat
    euler = Rotation.from_quat([x, y, z, w]).as_euler("xyz")
    frame = np.concatenate(
        [
            [math.sin(phase), math.cos(phase)],
            command * [2.0, 2.0, 1.0],
            reading.q - np.tile(list(DEFAULT.values()), 2),
            0.05 * reading.qd,
            last_action,
            reading.gyro,
            euler,
        ]
    )
    return np.clip(frame, -CLIP, CLIP)


@pytest.mark.slow(seconds=20)
class TestHumanoidGymOnH1:
    def test_the_import_stacks_15_frames_of_41_values(self, imported):
        meta = imported.metadata
        assert meta.frame_stack == imported.spec.frame_stack == FRAMES and meta.n_obs == FRAMES * WIDTH
        assert [t.name for t in meta.observation] == [
            "gait_phase",
            "velocity_command",
            "joint_pos_rel",
            "joint_vel",
            "last_action",
            "base_ang_vel",
            "base_euler",
        ]
        assert meta.control_dt == pytest.approx(0.01) and meta.action_limit == CLIP
        assert meta.export_check["max_abs_diff"] <= 1e-5 and meta.export_check["n_recorded"] > 0

    def test_the_deploy_loop_feeds_the_observation_rebuilt_by_hand(self, imported):
        spec = imported.spec
        robot = RecordingTwin(spec, TwinConfig(effects=TwinEffects.none(spec.integrator)))
        config = LoopConfig(
            mode="lockstep",
            velocity_command=tuple(COMMAND),
            speed=SpeedConfig(start_stage=len(DEFAULT_STAGES) - 1),
            episode_return=False,
        )
        loop = build_loop(spec, robot, imported.policy, config=config)
        runner = loop.policy
        frames: list[np.ndarray] = []
        last_action = np.zeros(N)
        try:
            for k in range(FRAMES + 5):  # the stack fills and its oldest frames drop out
                loop.tick()
                frames.append(by_hand(robot.readings[-1], k, last_action))
                expected = np.concatenate([np.zeros(WIDTH * max(FRAMES - len(frames), 0)), *frames[-FRAMES:]])
                np.testing.assert_allclose(runner.observation, expected, atol=2e-5, err_msg=f"tick {k}")
                last_action = np.array(runner.filtered_action)
            assert np.ptp(np.array(frames)[:, 2 + 3 : 2 + 3 + N]) > 1e-4  # the joints moved
            assert loop.reset().accepted  # the loop's reset clears the policy's state: zeros again
            loop.tick()  # at the loop's restart stage: its velocity command is a fraction of the one given
            first = by_hand(robot.readings[-1], 0, np.zeros(N), COMMAND * loop.speed.fraction)
            np.testing.assert_allclose(runner.observation[: (FRAMES - 1) * WIDTH], 0.0)
            np.testing.assert_allclose(runner.observation[(FRAMES - 1) * WIDTH :], first, atol=2e-5)
        finally:
            loop.close()
            robot.close()

    def test_sim2sim_runs_it(self, imported, capsys):
        code = main(
            [
                "sim2sim",
                "--robot",
                str(imported.spec.path),
                "--policy",
                str(imported.policy),
                "--velocity-command",
                *(str(v) for v in COMMAND),
                "--seconds",
                "1",
                "--json",
            ]
        )
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert code == 0 and "fell" in result and len(result["mean_base_velocity"]) == 3
