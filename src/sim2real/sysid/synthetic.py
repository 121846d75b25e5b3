"""Synthetic identification logs: a simulated robot with known parameters, excited open loop.

Used by the twin-recovery tests and ``bench sysid`` until the twin records real bags: the robot
is a :class:`~sim2real.sim.batch.BatchSim` whose parameters are set away from nominal, driven by
an excitation (chirp + PRBS), and read by noisy (optionally quantized) encoders.  The log has one
sample per control step: the state at ``t_k``, the command sent at ``t_k`` (held for one control
period) and the actuator force of that period as the measured effort.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sim2real.deploy.excitation import chirp, prbs
from sim2real.errors import Sim2RealError
from sim2real.logs.trajectory import Trajectory
from sim2real.robots.spec import RobotSpec
from sim2real.sim.batch import BatchSim

__all__ = ["excitation_commands", "simulate_log"]


def excitation_commands(
    spec: RobotSpec,
    t: np.ndarray,
    amplitude: float | np.ndarray | None = None,
    *,
    seed: int = 0,
    chirp_band: tuple[float, float] = (0.2, 3.0),
    prbs_hold: float = 0.15,
    prbs_share: float = 0.4,
) -> np.ndarray:
    """Chirp + PRBS commands around zero (torque / voltage actuators) or the default pose (pd).

    Args:
        spec: The robot.
        t: Command times, shape (T,) [s].
        amplitude: Peak command per actuator (actuator units); default a quarter of the command
            range (torque, voltage) or 0.5 rad (pd).
        seed: Seed of the PRBS.
        chirp_band: Chirp frequencies (start, end) [Hz].
        prbs_hold: PRBS hold time [s].
        prbs_share: Share of the amplitude taken by the PRBS (the rest is the chirp).

    Returns:
        Commands, shape (T, n_actions).
    """
    t = np.asarray(t, dtype=float)
    m = spec.n_actions
    if amplitude is None:
        amplitude = np.array(
            [0.25 * a.command_high if np.isfinite(a.command_high) else 0.5 for a in spec.actuators]
        )
    amplitude = np.broadcast_to(np.asarray(amplitude, dtype=float), (m,))
    rng = np.random.default_rng(seed)
    signal = (1 - prbs_share) * chirp(t, m, *chirp_band) + prbs_share * prbs(t, m, rng, prbs_hold)
    out = amplitude * signal
    for i, act in enumerate(spec.actuators):
        if act.model == "pd":
            out[:, i] += spec.default_pose[spec.joints.index(act.joint)]
    return out


def simulate_log(
    spec: RobotSpec,
    values: Mapping[str, object],
    commands: np.ndarray,
    *,
    position_noise: float = 0.0,
    velocity_noise: float = 0.0,
    resolution: float = 0.0,
    seed: int = 0,
    initial_qpos: np.ndarray | None = None,
    name: str = "synthetic",
) -> Trajectory:
    """Record a run of the robot with parameters ``values`` under open-loop ``commands``.

    Args:
        spec: The robot.
        values: True parameter values (names or patterns -> values) set away from nominal.
        commands: One command row per control step, shape (T, n_actions).
        position_noise: Encoder position noise std [rad].
        velocity_noise: Velocity noise std [rad/s].
        resolution: Encoder quantization step [rad] (0: none).
        seed: Seed of the noise.
        initial_qpos: Starting joint positions (default pose if None).
        name: ``meta["source"]`` of the log.

    Returns:
        A trajectory with ``T + 1`` samples at ``k * control_dt``, commands at the first ``T``.
    """
    commands = np.asarray(commands, dtype=float)
    if commands.ndim != 2 or commands.shape[1] != spec.n_actions:
        raise Sim2RealError(f"commands must have shape (T, {spec.n_actions}), got {commands.shape}")
    rng = np.random.default_rng(seed)
    sim = BatchSim(spec, 1, nthread=1)
    if values:
        sim.params.set(sim.batch, dict(values))
    sim.reset(qpos=None if initial_qpos is None else np.asarray(initial_qpos, dtype=float)[None])
    force = sim.batch.bind("actuator_force")
    T = commands.shape[0]
    q = np.empty((T + 1, spec.n_joints))
    qd = np.empty_like(q)
    tau = np.zeros_like(q)
    act_cols = [spec.joints.index(j) for j in spec.actuated_joints]
    q[0], qd[0] = sim.joint_pos[0], sim.joint_vel[0]
    for k in range(T):
        sim.step(commands[k][None])
        q[k + 1], qd[k + 1] = sim.joint_pos[0], sim.joint_vel[0]
        tau[k, act_cols] = force[0, sim.act_idx]
    tau[T] = tau[T - 1]
    q = q + position_noise * rng.standard_normal(q.shape)
    qd = qd + velocity_noise * rng.standard_normal(qd.shape)
    if resolution > 0:
        q = np.round(q / resolution) * resolution
    t = spec.control_dt * np.arange(T + 1)
    return Trajectory(
        spec_hash=spec.hash,
        joint_names=spec.joints,
        t=t,
        q=q,
        qd=qd,
        tau=tau,
        command_t=t[:T],
        command=commands,
        command_joints=spec.actuated_joints,
        meta={
            "robot": spec.name,
            "source": name,
            "true_values": {k: np.asarray(v).tolist() for k, v in values.items()},
        },
    )
