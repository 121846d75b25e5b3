"""TaskEnv: a batched simulation plus a task, stepped with policy actions (numpy, no torch).

Per control step::

    actions (N, n_act) in [-1, 1]
      -> low-pass filter (alpha from the task)          a_f = alpha a + (1 - alpha) a_f
      -> actuator commands (rad targets, N m or V)      via the task's action scale
      -> hooks (e.g. randomized action delay)           -> BatchSim.step (substeps in MuJoCo threads)
      -> rewards, terminations, success bookkeeping     -> automatic reset of finished episodes
      -> observations from the (noisy) sensor readings  via sim2real.tasks.observations

Hooks let randomization act without the environment knowing it: an object with any of
``on_reset(env, ids)``, ``pre_physics(env, command) -> command``, ``post_physics(env)``, and
``edit_spec(mjspec)`` for a hook that adds elements to the model (e.g. a terrain): when no model is
given, the environment compiles the robot's MjSpec after every such hook has edited it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import mujoco
import numpy as np

from sim2real.errors import Sim2RealError
from sim2real.robots.model import build_mjspec, spec_floor_height
from sim2real.robots.spec import RobotSpec
from sim2real.sim.batch import BatchSim
from sim2real.sim.sensors import SensorReader
from sim2real.sim.terrain_scan import ScanSetup, cast_height_scan, scan_setup
from sim2real.tasks.base import TaskConfig
from sim2real.tasks.observations import (
    ObservationHistory,
    ObservedActions,
    ObsInputs,
    build_observation,
    check_layout,
    quat_rotate_inverse,
)

log = logging.getLogger(__name__)


class EnvHook(Protocol):
    """Something that acts on the environment at fixed points of a step (randomization)."""

    def on_reset(self, env: TaskEnv, ids: np.ndarray) -> None: ...


@dataclass
class StepResult:
    """What one control step returns.  Arrays are batched over N."""

    obs: np.ndarray
    """Actor observations, (N, n_obs)."""
    critic_obs: np.ndarray
    """Critic observations, (N, n_critic)."""
    reward: np.ndarray
    """Step reward, (N,)."""
    done: np.ndarray
    """Episode ended this step (terminated or timed out), (N,) bool."""
    time_out: np.ndarray
    """Episode ended by its time limit, (N,) bool."""
    info: dict[str, Any]
    """Episode statistics of the episodes that ended: ``episode_return``, ``success``, ``length``."""


class TaskEnv:
    """N simulations of a robot running a task.

    Args:
        spec: The robot.
        task: The task.
        num_envs: Number of simulations.
        seed: Seed of every random draw of the environment.
        nthread: MuJoCo worker threads (0: every CPU).
        hooks: Randomization hooks.
        model: A compiled model to use instead of the nominal one (e.g. a calibrated one).
    """

    def __init__(
        self,
        spec: RobotSpec,
        task: TaskConfig,
        num_envs: int,
        seed: int = 0,
        nthread: int = 0,
        hooks: tuple[Any, ...] = (),
        model: mujoco.MjModel | None = None,
    ) -> None:
        check_layout(spec.observation)
        if len(task.action_scale) != spec.n_actions:
            raise Sim2RealError(
                f"task {task.name}: {len(task.action_scale)} action scales for {spec.n_actions} actuators"
            )
        self.spec = spec
        self.task = task
        self.num_envs = num_envs
        self.rng = np.random.default_rng(seed)
        if model is None and any(hasattr(h, "edit_spec") for h in hooks):
            mjspec = build_mjspec(spec)
            for hook in hooks:
                if hasattr(hook, "edit_spec"):
                    hook.edit_spec(mjspec)
            model = mjspec.compile()
        self.sim = BatchSim(spec, num_envs, nthread=nthread, model=model)
        self._floor = spec_floor_height(spec, self.sim.model) if spec.floating_base else 0.0
        self.sensors = SensorReader(self.sim, self.rng)
        self.hooks = list(hooks)
        self.control_dt = spec.control_dt
        self.max_episode_steps = round(task.episode_s / spec.control_dt)
        n_act = spec.n_actions
        self.action = np.zeros((num_envs, n_act))
        self.filtered_action = np.zeros((num_envs, n_act))
        self.prev_action = np.zeros((num_envs, n_act))
        self.command_values = np.zeros((num_envs, n_act))
        self.velocity_command = np.zeros((num_envs, 3))
        self._next_command_t = np.zeros(num_envs)
        self.episode_step = np.zeros(num_envs, dtype=np.int64)
        self.episode_return = np.zeros(num_envs)
        self._success_streak = np.zeros(num_envs)
        self._success_sum = np.zeros(num_envs)
        self._whole = np.ones(num_envs, dtype=bool)  # the episode started at step 0 (not a random start)
        self._scale = np.asarray(task.action_scale, dtype=float)
        self._offset = np.asarray(spec.action_offset, dtype=float)
        self.observed_actions = ObservedActions(n_act, spec.action_index)
        """The actions the ``last_action`` term shows (a held actuator's, ``spec.held``, is left out)."""
        self._low = np.array([a.command_low for a in spec.actuators])
        self._high = np.array([a.command_high for a in spec.actuators])
        self._meas_q = np.zeros((num_envs, spec.n_joints))
        self._meas_qd = np.zeros((num_envs, spec.n_joints))
        self.obs_history = ObservationHistory(spec.observation, num_envs, spec.frame_stack)
        """The frames of the observation's history terms and its stacked frames (``spec.frame_stack``),
        per simulation (refilled at each reset)."""
        self._observed: tuple[np.ndarray, np.ndarray] | None = None
        self._limit = spec.action_limit
        self._clip_low = spec.action_clip_low if spec.action_clip_low.size else None
        self._clip_high = spec.action_clip_high if spec.action_clip_high.size else None
        self.hooks = [factory(self) for factory in task.env_hooks] + self.hooks
        self._scan = self._scan_setup()
        self.reset()

    def _scan_setup(self) -> tuple[mujoco.MjData, ScanSetup] | None:
        """For a layout with a terrain height scan: a scene to cast the rays in (one MjData of the
        model at rest: the terrain is the model's static scene, the same for every simulation; the
        robot's geoms there are passed through) and the scan; else None."""
        setup = scan_setup(self.spec, self.sim.model)
        if setup is None:
            return None
        if any(hasattr(h, "edit_spec") for h in self.hooks):
            raise Sim2RealError(
                "a height-scan observation cannot run with a randomization that adds terrain: each simulation's "
                "terrain is placed per episode and the scan sees the nominal scene (leave out 'terrain:')"
            )
        if self.num_envs > 16:  # one Python ray cast per point per simulation per step
            log.warning(
                "the height scan is cast ray by ray: about %.0f ms per step for %d simulations (docs/policies.md)",
                0.4 * self.num_envs, self.num_envs,
            )
        scene = mujoco.MjData(self.sim.model)
        mujoco.mj_forward(self.sim.model, scene)
        return scene, setup

    # ------------------------------------------------------------ state for terms
    @property
    def joint_pos(self) -> np.ndarray:
        """True joint positions (N, n_joints) [rad]."""
        return self.sim.joint_pos

    @property
    def joint_vel(self) -> np.ndarray:
        """True joint velocities (N, n_joints) [rad/s]."""
        return self.sim.joint_vel

    @property
    def joint_torque(self) -> np.ndarray:
        """Actuator torques of the last substep (N, n_actions) [N m]."""
        return self.sim.batch.bind("actuator_force")[:, self.sim.act_idx]

    @property
    def episode_time(self) -> np.ndarray:
        """Time since the episode started (N,) [s]."""
        return self.episode_step * self.control_dt

    @property
    def base_quat(self) -> np.ndarray:
        """Base orientation (N, 4) (floating base)."""
        return self.sim.base_quat

    @property
    def base_height(self) -> np.ndarray:
        """Base height above the floor (N,) [m] (floating base; the floor under the robot at its
        initial pose, :func:`~sim2real.robots.model.spec_floor_height`)."""
        return self.sim.base_pos[:, 2] - self._floor

    @property
    def base_lin_vel(self) -> np.ndarray:
        """Base linear velocity in the base frame (N, 3) [m/s] (privileged: no real sensor gives it)."""
        return quat_rotate_inverse(self.sim.base_quat, self.sim.base_lin_vel_world)

    @property
    def base_ang_vel(self) -> np.ndarray:
        """Base angular velocity in the base frame (N, 3) [rad/s] (true value)."""
        return self.sim.base_ang_vel.copy()

    @property
    def projected_gravity(self) -> np.ndarray:
        """Gravity direction in the base frame (N, 3)."""
        return quat_rotate_inverse(self.sim.base_quat, np.array([0.0, 0.0, -1.0]))

    # ------------------------------------------------------------------ actions
    def action_to_command(self, action: np.ndarray) -> np.ndarray:
        """Actuator commands from (filtered) actions; shape (N, n_act) in actuator units: offset +
        scale * a, clipped to the spec's ``action.clip`` and to the actuator command limits."""
        cmd = self._scale * action + self._offset
        if self._clip_low is not None:
            cmd = np.clip(cmd, self._clip_low, self._clip_high)
        return np.clip(cmd, self._low, self._high)

    # ---------------------------------------------------------------- observations
    def obs_inputs(self) -> ObsInputs:
        """Sensor-derived inputs of the observation terms, as the robot would measure them."""
        q, qd = self.sensors.joints()
        self._meas_q, self._meas_qd = q, qd
        gyro = quat = None
        if self.spec.imu is not None:
            gyro = self.sensors.read(self.spec.sensor_name("imu.gyro"))
            quat = self.sensors.read(self.spec.sensor_name("imu.quat"))
            quat = quat / np.linalg.norm(quat, axis=1, keepdims=True)
        return ObsInputs(
            joint_pos=q,
            joint_vel=qd,
            default_pose=self.spec.default_pose,
            last_action=self.observed_actions.select(self.filtered_action),
            base_ang_vel=gyro,
            base_quat=quat,
            velocity_command=self.velocity_command if self.task.commands is not None else None,
            base_lin_vel=self.base_lin_vel if self.spec.floating_base else None,
            episode_time=self.episode_time,
            height_scan=None
            if self._scan is None
            else cast_height_scan(
                self.sim.model, self._scan[0], self.sim.base_pos, self.sim.base_quat, self._scan[1].grid, self._scan[1].terrain
            ),
        )

    def observe(self) -> tuple[np.ndarray, np.ndarray]:
        """Actor observations (N, n_obs) and critic observations (N, n_obs + privileged).

        The observation of a state is built once (its frames enter the history once); calling this
        again before the next step or reset returns copies of the same arrays.
        """
        if self._observed is None:
            obs = build_observation(self.spec.observation, self.obs_inputs(), history=self.obs_history)
            extra = [
                np.asarray(getattr(self, name)).reshape(self.num_envs, -1) for name in self.task.critic_terms
            ]
            critic = np.hstack([obs, *extra]) if extra else obs
            self._observed = (obs, critic)
        obs, critic = self._observed
        return obs.copy(), critic.copy()

    # --------------------------------------------------------------------- reset
    def _sample_commands(self, ids: np.ndarray) -> None:
        cfg = self.task.commands
        if cfg is None or ids.size == 0:
            return
        n = ids.size
        cmd = np.stack(
            [self.rng.uniform(*cfg.vx, n), self.rng.uniform(*cfg.vy, n), self.rng.uniform(*cfg.yaw, n)],
            axis=1,
        )
        cmd[self.rng.random(n) < cfg.standing_fraction] = 0.0
        self.velocity_command[ids] = cmd
        self._next_command_t[ids] = self.episode_time[ids] + cfg.resample_s

    def reset(self, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Start new episodes (all when ids is None) and return fresh observations."""
        ids = np.arange(self.num_envs) if ids is None else np.asarray(ids, dtype=np.int64)
        self._reset_ids(ids)
        return self.observe()

    def _reset_ids(self, ids: np.ndarray) -> None:
        if ids.size == 0:
            return
        for hook in self.hooks:
            if hasattr(hook, "on_reset"):
                hook.on_reset(self, ids)
        q, qd = self.task.reset(self, ids, self.rng)
        self.sim.reset(ids, qpos=q, qvel=qd)
        self.obs_history.reset(ids)
        self._observed = None
        self.action[ids] = 0.0
        self.filtered_action[ids] = 0.0
        self.prev_action[ids] = 0.0
        self.command_values[ids] = self.action_to_command(np.zeros((ids.size, self.spec.n_actions)))
        self.episode_step[ids] = 0
        self.episode_return[ids] = 0.0
        self._success_streak[ids] = 0.0
        self._success_sum[ids] = 0.0
        self._whole[ids] = True
        self._sample_commands(ids)

    def start_episodes_at(self, steps: np.ndarray) -> None:
        """Set each running episode's step count (rsl_rl's random episode starts, which spread the
        first resets): an episode that does not run from step 0 is not judged (info ``judged``
        False: a random start ends early in a time-out, which would count as a success).

        Args:
            steps: Steps already taken, shape (N,).
        """
        steps = np.asarray(steps, dtype=np.int64)
        self.episode_step[:] = steps
        self._whole &= steps == 0

    # ---------------------------------------------------------------------- step
    def step(self, actions: np.ndarray) -> StepResult:
        """Advance every simulation by one control step.

        Args:
            actions: Policy actions, (N, n_actions), clipped to +-``spec.action_limit`` (1 for
                sim2real's own tanh policies).
        """
        actions = np.nan_to_num(np.asarray(actions, dtype=float))
        if self._limit is not None:
            actions = np.clip(actions, -self._limit, self._limit)
        alpha = self.task.action_filter
        self.prev_action[:] = self.filtered_action
        self.action[:] = actions
        self.filtered_action[:] = alpha * actions + (1.0 - alpha) * self.filtered_action
        command = self.action_to_command(self.filtered_action)
        for hook in self.hooks:
            if hasattr(hook, "pre_physics"):
                command = hook.pre_physics(self, command)
        self.command_values[:] = command
        self.sim.step(command)
        self._observed = None
        for hook in self.hooks:
            if hasattr(hook, "post_physics"):
                hook.post_physics(self)
        self.episode_step += 1

        bad = self.sim.check_finite()
        reward = np.zeros(self.num_envs)
        for term in self.task.rewards.values():
            reward += term.weight * term(self)
        reward *= self.control_dt
        reward[bad] = 0.0
        terminated = np.zeros(self.num_envs, dtype=bool)
        for term in self.task.terminations.values():
            terminated |= np.asarray(term(self), dtype=bool)
        terminated[bad] = True
        time_out = (self.episode_step >= self.max_episode_steps) & ~terminated
        self.episode_return += reward

        rule = self.task.success
        metric = np.asarray(rule.metric(self), dtype=float)
        if rule.kind == "hold_last":
            self._success_streak = np.where(metric > 0.5, self._success_streak + self.control_dt, 0.0)
        else:
            self._success_sum += metric

        done = terminated | time_out
        info: dict[str, Any] = {}
        finished = np.flatnonzero(done)
        if finished.size:
            if rule.kind == "hold_last":
                success = time_out[finished] & (self._success_streak[finished] >= rule.window_s - 1e-9)
            else:
                mean = self._success_sum[finished] / np.maximum(self.episode_step[finished], 1)
                success = time_out[finished] & (mean < rule.threshold)
            info = {
                "episode_return": self.episode_return[finished].copy(),
                "success": success,
                "judged": self._whole[finished].copy(),
                "length": self.episode_step[finished].copy(),
                "ids": finished,
            }
            self._reset_ids(finished)
        if self.task.commands is not None:
            due = np.flatnonzero(self.episode_time >= self._next_command_t)
            self._sample_commands(due)
        obs, critic = self.observe()
        return StepResult(obs, critic, reward, done, time_out, info)
