"""Fine-tuning data from deploy logs: episodes of (observation, executed action, reward), a replay buffer.

A deploy log (rosbag2/MCAP, :func:`sim2real.logs.read_bag`) holds the measured joint states and
the actuator commands the robot received.  For a policy with action filter ``alpha``, command
``u = scale a_f + offset`` and observation term ``last_action = a_f`` (the filter state before the
step), one control tick ``k`` gives::

    a_f[k]  = (u[k] - offset) / scale                         filter state after the tick
    obs[k]  = terms(q[k], qd[k], last_action = a_f[k-1])      the policy's observation layout
    a[k]    = (a_f[k] - (1 - alpha) a_f[k-1]) / alpha          executed raw action, clipped to [-1, 1]
    r[k]    = sum_i w_i term_i(q[k], qd[k], a_f[k], a_f[k-1]) * control_dt   the task's reward terms

with ``a_f[-1] = 0`` (the policy is reset at the start of a run).  The state of tick ``k`` is the
newest joint-state sample at or before its command, not used by an earlier tick (a dropped
reading gives a tick without a sample: no training pair, the filter chain continues).  Ticks in
which the safety monitor did not pass the policy's command through (hold or safe mode, from the
log's ``mode`` events) give no pair either, and a latched safe stop ends the episode.

Observations are built with the training term functions
(:func:`sim2real.tasks.observations.build_observation`), never by hand.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.deploy.loop_log import EVENT_START, EVENT_VELOCITY
from sim2real.errors import LogError, Sim2RealError
from sim2real.logs.bag import read_bag
from sim2real.logs.bag_states import parse_command_order
from sim2real.logs.bag_unitree import check_command_kind, check_motor_order, parse_motor_order
from sim2real.logs.trajectory import Trajectory
from sim2real.policy.metadata import PolicyMetadata
from sim2real.real.imu_frame import imu_in_site_frame
from sim2real.robots.spec import RobotSpec
from sim2real.tasks.observations import ObservedActions, ObsInputs, build_observation
from sim2real.tasks.state import MeasuredState

log = logging.getLogger(__name__)

MIN_TICKS = 10
"""Fewest usable ticks an episode must have."""

NOT_IN_LOGS = {
    "height_scan": "a terrain height scan (sim2real casts it on the twin's terrain as the policy runs; "
    "a log holds no terrain to cast it on)",
    "base_lin_vel": "the base linear velocity (a state estimator's, which no log holds)",
}
"""Observation terms no deploy log holds the inputs of: what each needs and why a log lacks it."""


def check_observation_from_logs(meta: PolicyMetadata, where: str) -> None:
    """Refuse a policy whose observations cannot be rebuilt from deploy logs, before any log is
    read or collected: a term of :data:`NOT_IN_LOGS`, or observation history and phase clocks
    (which need the run from its start, tick by tick).

    Args:
        meta: The policy's metadata.
        where: The policy, as the error line names it.

    Raises:
        Sim2RealError: one line naming the term and why the logs cannot give it.
    """
    missing = [t.name for t in meta.observation if t.name in NOT_IN_LOGS]
    if missing:
        raise Sim2RealError(
            f"{where} observes {NOT_IN_LOGS[missing[0]]}: fine-tuning rebuilds every observation "
            f"from deploy logs, so it cannot fine-tune this policy (term {missing[0]})"
        )
    sequential = [t.name for t in meta.observation if t.history > 1 or t.name == "gait_phase"]
    if meta.frame_stack > 1:
        sequential.insert(0, f"{meta.frame_stack} stacked frames")
    if sequential:
        raise Sim2RealError(
            f"{where}: fine-tuning from logs does not rebuild observation history or phase clocks "
            f"(terms {', '.join(sequential)})"
        )


def check_rewards_from_logs(spec: RobotSpec, task: Any | None = None) -> None:
    """Refuse a task whose rewards a deploy log cannot give (a velocity-tracking task's base velocity
    and foot contacts), before any log is read or collected: the error :func:`reward_terms` raises
    on one zero state.

    Raises:
        Sim2RealError: one line naming the reward term and what it needs.
    """
    from sim2real.tasks import get_task

    task = task if task is not None else get_task(spec)
    q, a = np.zeros((1, spec.n_joints)), np.zeros((1, spec.n_actions))
    reward_terms(spec, task, q, q, a, a, np.zeros((1, 3)))


@dataclass(frozen=True, eq=False)
class Episode:
    """One logged run as training data; ``T`` usable ticks."""

    obs: np.ndarray
    """Observations, shape (T, n_obs), float32."""
    actions: np.ndarray
    """Executed raw actions, shape (T, n_act), in [-1, 1]."""
    rewards: np.ndarray
    """Task reward per tick (already times control_dt), shape (T,)."""
    tick: np.ndarray
    """Tick index of each row in the run (gaps where a tick gave no pair), shape (T,) int."""
    source: str = ""
    """Where the episode came from (log path)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Counts: ticks, dropped, not_passed, safe_stop (bool), digest of the log data."""

    @property
    def length(self) -> int:
        """Number of usable ticks T."""
        return int(self.rewards.size)

    @property
    def episode_return(self) -> float:
        """Sum of the rewards."""
        return float(self.rewards.sum())


def _mode_intervals(traj: Trajectory) -> tuple[list[tuple[float, float]], float]:
    """Intervals [t0, t1) of non-normal command modes, and the time of a latched safe stop (inf if none)."""
    bad: list[tuple[float, float]] = []
    start: float | None = None
    stop = np.inf
    for ev in traj.events:
        if ev.kind == "mode":
            to = ev.detail.get("to")
            if to != "normal" and start is None:
                start = ev.t
            elif to == "normal" and start is not None:
                bad.append((start, ev.t))
                start = None
            if to == "safe":
                stop = min(stop, ev.t)
        elif ev.kind == "safety" and ev.detail.get("severity") == "safe_stop":
            stop = min(stop, ev.t)
    if start is not None:
        bad.append((start, np.inf))
    return bad, stop


def velocity_commands(traj: Trajectory, times: np.ndarray, where: str, observed: bool = False) -> np.ndarray:
    """The velocity command the policy saw at each time, from the log's events, shape (T, 3)
    [m/s, m/s, rad/s]: the loop's ``velocity_command`` events (the command as scaled by the speed
    stage, logged at each change), held; before the first, the first.  A log without them (written
    before they were logged, or by another tool) gives its start event's command, else the one
    ``record --policy --velocity-command`` writes into the log's metadata, with a warning when that
    is not zero; else zeros, with a warning when the policy observes a velocity command
    (``observed``: a walking log fine-tuned as if it stood still)."""
    changes = [(ev.t, ev.detail.get("velocity_command")) for ev in traj.events if ev.kind == EVENT_VELOCITY]
    changes = [(t, v) for t, v in changes if isinstance(v, list) and len(v) == 3]
    if changes:
        at = np.array([t for t, _ in changes])
        values = np.array([v for _, v in changes], dtype=float)
        k = np.clip(np.searchsorted(at, np.asarray(times) + 1e-9, side="right") - 1, 0, None)
        return values[k]
    start = next((ev.detail for ev in traj.events if ev.kind == EVENT_START), {})
    stated = [start.get("velocity_command") if isinstance(start, dict) else None, traj.meta.get("velocity_command")]
    value = next((v for v in stated if isinstance(v, list | tuple) and len(v) == 3), None)
    command = np.zeros(3) if value is None else np.asarray(value, dtype=float)
    if value is None and observed:
        log.warning(
            "%s: the log names no velocity command (no velocity_command events, start event or metadata): the "
            "policy's velocity command taken as 0 for the whole run; a walking run is then learned as if told to stand",
            where,
        )
    elif np.any(command != 0):
        log.warning(
            "%s: the log names the velocity command only at its start (%s): held for the whole run, speed "
            "stage scaling not known (logs of this version record each change)",
            where,
            ", ".join(f"{x:g}" for x in command),
        )
    return np.tile(command, (len(times), 1))


def reward_terms(
    spec: RobotSpec,
    task: Any,
    q: np.ndarray,
    qd: np.ndarray,
    a_f: np.ndarray,
    a_prev: np.ndarray,
    velocity_command: np.ndarray | None = None,
) -> np.ndarray:
    """The task's step reward (times control_dt) from measured states, shape (T,), as the deploy
    loop's episode return sums it.

    Args:
        spec: The robot.
        task: Its TaskConfig.
        q: Joint positions (T, n_joints) [rad].
        qd: Joint velocities (T, n_joints) [rad/s].
        a_f: Filtered action after each tick (T, n_act).
        a_prev: Filtered action before each tick (T, n_act).
        velocity_command: The command of each tick (T, 3) [m/s, m/s, rad/s], as the policy saw it
            (:func:`velocity_commands`); None: zeros (a task without one).

    Raises:
        Sim2RealError: a reward term needs what a robot does not measure.
    """
    n = q.shape[0]
    env = MeasuredState(
        spec,
        joint_pos=q,
        joint_vel=qd,
        filtered_action=a_f,
        prev_action=a_prev,
        velocity_command=np.zeros((n, 3)) if velocity_command is None else velocity_command,
    )
    total = np.zeros(n)
    for name, term in task.rewards.items():
        try:
            value = np.asarray(term(env), dtype=float)
        except (AttributeError, KeyError, TypeError, IndexError, ValueError) as exc:
            raise Sim2RealError(
                f"reward term '{name}' needs what a robot log does not hold ({exc})"
            ) from None
        total += term.weight * value.reshape(n)
    return total * float(spec.control_dt)


def episode_from_trajectory(
    traj: Trajectory, spec: RobotSpec, meta: PolicyMetadata, task: Any | None = None, source: str = ""
) -> Episode:
    """One run as training data (see the module docstring); its commands are matched to the policy's
    actuated joints by name (a bag of another recorder may list them in its motor order).

    Raises:
        SpecMismatchError: the log was recorded for another spec.
        LogError: the log has no commands, was driven by an excitation signal instead of a policy,
            or has too few usable ticks.
    """
    from sim2real.errors import SpecMismatchError
    from sim2real.tasks import get_task

    where = source or "log"
    if traj.spec_hash is not None and traj.spec_hash != spec.hash:
        raise SpecMismatchError(f"{where}", expected=spec.hash, found=traj.spec_hash)
    if traj.command.shape[0] == 0:
        raise LogError(f"{where}: no actuator commands; a fine-tuning log must come from a deploy run")
    driver = traj.meta.get("policy") or {}
    if isinstance(driver, dict) and (driver.get("excitation") or driver.get("type") == "ExcitationPolicy"):
        raise LogError(
            f"{where}: recorded with a {driver.get('excitation', 'signal')} excitation, not a policy: "
            "fine-tuning learns from a policy's own actions; give deploy logs (sim2real deploy --out LOG)"
        )
    if sorted(traj.command_joints) != sorted(meta.actuated_joints):
        raise LogError(
            f"{where}: commands drive {list(traj.command_joints)}, the policy {list(meta.actuated_joints)}"
        )
    command = traj.command[:, [traj.command_joints.index(j) for j in meta.actuated_joints]]  # by name
    cols = [traj.joint_index(j) for j in meta.joint_names]
    task = task if task is not None else get_task(spec)
    scale = np.asarray(meta.action_scale, dtype=float)
    offset = meta.command_offset
    alpha = float(meta.action_filter)
    dt = float(meta.control_dt)

    # (K, n_act); a held actuator's scale is 0 (its command is its offset whatever the action): 0
    a_f = np.divide(command - offset, scale, out=np.zeros_like(command, dtype=float), where=scale != 0)
    a_prev = np.vstack([np.zeros((1, a_f.shape[1])), a_f[:-1]])
    raw = np.clip((a_f - (1.0 - alpha) * a_prev) / alpha, -1.0, 1.0)

    # the state sample of each tick: newest at or before the command, fresh, within one period
    idx = np.searchsorted(traj.t, traj.command_t + 1e-9, side="right") - 1
    fresh = idx >= 0
    fresh[1:] &= idx[1:] != idx[:-1]
    safe_idx = np.maximum(idx, 0)
    fresh &= traj.command_t - traj.t[safe_idx] < dt - 1e-9
    bad, stop = _mode_intervals(traj)
    passed = np.ones(len(idx), dtype=bool)
    for t0, t1 in bad:
        passed &= ~((traj.command_t >= t0 - 1e-9) & (traj.command_t < t1 - 1e-9))
    before_stop = traj.command_t < stop - 1e-9
    use = fresh & passed & before_stop
    ticks = np.flatnonzero(use)
    if ticks.size < MIN_TICKS:
        raise LogError(f"{where}: only {ticks.size} usable control ticks (need {MIN_TICKS})")

    q = traj.q[idx[ticks]][:, cols]
    qd = traj.qd[idx[ticks]][:, cols]
    gyro = quat = None
    if traj.imu_t is not None and traj.imu_t.size:
        k = np.clip(np.searchsorted(traj.imu_t, traj.t[idx[ticks]] + 1e-9, side="right") - 1, 0, None)
        gyro = traj.gyro[k] if traj.gyro is not None else None
        if traj.quat is not None:
            quat = traj.quat[k] / np.linalg.norm(traj.quat[k], axis=1, keepdims=True)
    commands = velocity_commands(
        traj, traj.command_t[ticks], where, observed=any(t.name == "velocity_command" for t in meta.observation)
    )
    inputs = ObsInputs(
        joint_pos=q,
        joint_vel=qd,
        default_pose=np.asarray(meta.default_pose, dtype=float),
        last_action=ObservedActions(meta.n_act, meta.action_index).select(a_prev[ticks]),
        base_ang_vel=gyro,
        base_quat=quat,
        velocity_command=commands,
    )
    check_observation_from_logs(meta, "the policy")
    try:
        obs = build_observation(meta.observation, inputs)
    except Sim2RealError as exc:
        raise LogError(f"{where}: the observation needs what the log does not hold ({exc})") from None
    rewards = reward_terms(spec, task, q, qd, a_f[ticks], a_prev[ticks], commands)
    digest = hashlib.sha256(np.ascontiguousarray(command).tobytes() + traj.q.tobytes()).hexdigest()
    info = {
        "ticks": len(idx),
        "usable": int(ticks.size),
        "dropped": int((~fresh).sum()),
        "not_passed": int((~passed).sum()),
        "safe_stop": bool(np.isfinite(stop)),
        "data_sha256": digest,
    }
    return Episode(
        obs=obs.astype(np.float32),
        actions=raw[ticks],
        rewards=rewards,
        tick=ticks,
        source=source,
        info=info,
    )


def load_episodes(
    paths: Sequence[str | Path],
    spec: RobotSpec,
    meta: PolicyMetadata,
    task: Any | None = None,
    command_order: str = "auto",
    motor_order: str | Sequence[str] | None = None,
) -> list[Episode]:
    """Episodes from deploy logs (one per bag); ``command_order``: which joint each value of a bag's
    commands drives when the bag does not name them (another recorder's bag:
    :func:`~sim2real.logs.bag_states.command_joints_for`); ``motor_order``: the joint of each motor
    of a Unitree bag (:mod:`~sim2real.logs.bag_unitree`).

    Raises:
        Sim2RealError: no logs given; LogError / SpecMismatchError: a log is unusable or of another
        robot spec (the message names the log and both hashes).
    """
    if not paths:
        raise Sim2RealError("no logs given: pass one or more deploy logs (rosbag2 directories or ROS 1 .bag files)")
    check_observation_from_logs(meta, "the policy")
    order = parse_command_order(command_order)
    motors = check_motor_order(parse_motor_order(motor_order), spec.motor_order)
    episodes = []
    for path in paths:
        traj = read_bag(
            path,
            expected_hash=spec.hash,
            expected_robot=spec.name,
            require_commands=True,
            command_joints=spec.actuated_joints,
            command_order=order,
            motor_order=motors,
        )
        check_command_kind(str(path), traj.meta, {a.joint: (a.model, a.kp, a.kd) for a in spec.actuators})
        traj = imu_in_site_frame(spec, traj, str(path))
        episodes.append(episode_from_trajectory(traj, spec, meta, task, source=str(path)))
    return episodes


class ReplayBuffer:
    """Episodes kept for fine-tuning, oldest dropped first beyond ``capacity`` ticks.

    Args:
        capacity: Most ticks kept (whole episodes are dropped).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise Sim2RealError(f"replay buffer capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.episodes: list[Episode] = []

    def add(self, episodes: Episode | Sequence[Episode]) -> None:
        """Append episodes; drop the oldest while over capacity (the newest is always kept)."""
        new = [episodes] if isinstance(episodes, Episode) else list(episodes)
        self.episodes.extend(new)
        while len(self.episodes) > 1 and self.size > self.capacity:
            self.episodes.pop(0)

    @property
    def size(self) -> int:
        """Ticks held."""
        return sum(e.length for e in self.episodes)

    def __len__(self) -> int:
        return len(self.episodes)

    def arrays(self) -> dict[str, np.ndarray]:
        """Concatenated ``obs`` (N, n_obs), ``actions`` (N, n_act), ``rewards`` (N,), ``episode`` (N,) int."""
        if not self.episodes:
            raise Sim2RealError("the replay buffer is empty")
        return {
            "obs": np.concatenate([e.obs for e in self.episodes]),
            "actions": np.concatenate([e.actions for e in self.episodes]),
            "rewards": np.concatenate([e.rewards for e in self.episodes]),
            "episode": np.concatenate([np.full(e.length, i) for i, e in enumerate(self.episodes)]),
        }
