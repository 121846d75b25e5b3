"""Logs for replay and identification: rosbag2/MCAP bags, or CSV files through a named column map.

A bag records its robot spec hash, which must be the robot's (a log of another robot is a
:class:`~sim2real.errors.SpecMismatchError`), and must carry commands.  A floating-base robot's log
that carries no base state (recorded before logs had one, or by another recorder) gets it from the
on-board estimator run over its IMU and joint samples (:func:`sim2real.real.estimator.estimate_track`),
as the robot would have computed it; a log recorded hung by its base needs none.  A CSV file carries no
hash: it is read through a column map, one of the built-in ones (:data:`CSV_MAPS`, chosen by name with
``--csv-map``) or the user's own YAML file (:mod:`sim2real.logs.csv_map_file`), and checked against
the robot by joint names.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sim2real.errors import LogError
from sim2real.logs import Trajectory, load_real_pendulum, load_real_qube, read_bag, read_csv
from sim2real.logs.bag_states import parse_command_order
from sim2real.logs.bag_topics import parse_topics
from sim2real.logs.bag_unitree import check_command_kind, check_motor_order, parse_motor_order
from sim2real.logs.csv_map_file import check_map_joints, load_column_map
from sim2real.real.estimator import estimate_track
from sim2real.real.imu_frame import imu_in_site_frame
from sim2real.robots.spec import RobotSpec
from sim2real.sim.replay import check_log_fits

log = logging.getLogger(__name__)

__all__ = ["CSV_MAPS", "csv_reader", "load_logs", "unit_warnings"]

CSV_MAPS: dict[str, Callable[[str | Path], Trajectory]] = {
    "pendulum": load_real_pendulum,
    "qube": load_real_qube,
}
"""Built-in CSV column maps by name: ``pendulum`` (DFKI simple pendulum: time, position, velocity,
torque), ``qube`` (Quanser QUBE-Servo 2 recordings: t, theta, alpha, plant_input), see
:mod:`sim2real.logs.csv_import`."""


def load_logs(
    spec: RobotSpec,
    paths: Sequence[str | Path],
    csv_map: str | None = None,
    min_seconds: float = 0.0,
    before_safe_mode: bool = False,
    topics: Sequence[str] = (),
    fixed_base: bool = False,
    command_order: str = "auto",
    motor_order: str | Sequence[str] | None = None,
) -> list[Trajectory]:
    """Read logs of a robot and check that each can be replayed on it.

    Args:
        spec: The robot.
        paths: Bag directories, ``.mcap`` or ROS 1 ``.bag`` files, or CSV files.
        csv_map: Column map of CSV files: a key of :data:`CSV_MAPS` or a YAML column map file.
        min_seconds: Shortest time span a log may cover (e.g. one replay window) [s]; with a
            positive value a log also needs at least 3 samples.
        before_safe_mode: Keep only the part of each log before the safety layer put the robot in
            safe mode (identification: a robot braking into its damping, or lying where it fell, is
            no excitation; a log 99 % in safe mode gave confident wrong masses); else warn.
        topics: ``ROLE=TOPIC`` items naming the topics of bags from other recorders
            (:func:`~sim2real.logs.bag_topics.parse_topics`).
        fixed_base: The logs were recorded with the robot hung by its base: a log that does not say
            how it was recorded (a CSV, another recorder's bag) is taken as hung; one of sim2real's
            logs recorded free is refused.
        command_order: Which joint each value of a bag's commands drives when the bag does not
            name them: ``auto``, ``robot``, ``states`` or ``J1,J2,...``
            (:func:`~sim2real.logs.bag_states.command_joints_for`); a CSV's column map names them.
        motor_order: A Unitree bag (LowState/LowCmd): the joint of motor 0, 1, ... as ``J1,J2,...``
            (:mod:`~sim2real.logs.bag_unitree`).

    Raises:
        LogError: missing, empty, truncated or malformed logs; a CSV without a column map; a log
            without commands or without the robot's joints.
        SpecMismatchError: a bag recorded with another robot spec.
    """
    if not paths:
        raise LogError("give at least one log (a rosbag2 directory, an .mcap/.db3 or ROS 1 .bag file, a split ROS 1 recording's folder, or a CSV file)")
    seen: dict[Path, str] = {}
    for raw in paths:  # one log twice counts its samples twice: intervals too narrow, weights skewed
        key = Path(raw).resolve()
        if key in seen:
            also = "" if seen[key] == str(raw) else f" (as {seen[key]} too)"
            raise LogError(f"{raw}: given twice{also}; give each log once")
        seen[key] = str(raw)
    reader = csv_reader(spec, csv_map) if csv_map is not None else None
    chosen = parse_topics(topics)
    order = parse_command_order(command_order)
    motors = check_motor_order(parse_motor_order(motor_order), spec.motor_order)
    out = []
    for raw in paths:
        path = Path(raw)
        if path.suffix.lower() == ".csv":
            if reader is None:
                raise LogError(
                    f"{path}: a CSV log needs a column map: --csv-map {'|'.join(CSV_MAPS)}|MAP.yaml "
                    "(a map file of its columns, docs/real_data.md)"
                )
            if order.kind != "auto":
                raise LogError(f"{path}: --command-order is for bags; a CSV's column map names the command joints")
            if motor_order is not None:
                raise LogError(f"{path}: --motor-order is for Unitree bags; a CSV's column map names the joints")
            traj = reader(path)
        else:
            if not path.exists():
                raise LogError(f"{path}: no such log (a rosbag2 directory, an .mcap/.db3 or ROS 1 .bag file, a split ROS 1 recording's folder, or a CSV file)")
            traj = read_bag(
                path,
                expected_hash=spec.hash,
                expected_robot=spec.name,
                require_commands=True,
                command_joints=spec.actuated_joints,
                topics=chosen,
                command_order=order,
                motor_order=motors,
            )
        _check_joined_joints(spec, traj, str(path))
        check_log_fits(spec, traj, str(path))
        traj = imu_in_site_frame(spec, traj, str(path))
        check_command_kind(str(path), traj.meta, {a.joint: (a.model, a.kp, a.kd) for a in spec.actuators})
        traj = _declared_hung(spec, traj, str(path)) if fixed_base else traj
        traj = _before_safe_mode(traj, str(path), cut=before_safe_mode)
        traj = _drives_on(spec, traj, str(path), cut=before_safe_mode)
        if path.suffix.lower() == ".csv":  # no CSV states its units (a log of the robot's joints by now)
            for line in unit_warnings(spec, traj):
                log.warning("%s: %s", path, line)
        n = len(traj.t)
        span = float(traj.t[-1] - traj.t[0]) if n else 0.0
        if min_seconds > 0 and (n < 3 or span < min_seconds):
            raise LogError(
                f"{path}: {n} samples over {span:.3g} s is too short to replay: it needs at least "
                f"{min_seconds:g} s; use a longer log"
            )
        out.append(_with_base_state(spec, traj, str(path)))
    return out


_TIME_UNITS = (("milliseconds", 1e-3), ("microseconds", 1e-6), ("nanoseconds", 1e-9))
SLOW_SAMPLES_S = 1.0
"""Median sample spacing beyond which a CSV's time column is probably not in seconds [s]."""
FAST_FACTOR = 5.0
"""A CSV whose joints move this many times faster than their velocity limits is probably not in rad."""
OUTSIDE_SHARE = 0.5
"""A CSV whose joint lies outside its safety range for more than this share of the samples probably
counts its angle from another zero, or the other way round."""


def unit_warnings(spec: RobotSpec, traj: Trajectory) -> list[str]:
    """Lines naming what in a CSV log looks like the wrong unit (no file states its units): a
    median sample spacing over :data:`SLOW_SAMPLES_S` (time in milliseconds?), joint speeds over
    :data:`FAST_FACTOR` x the spec's velocity limits at the 99th percentile (angles in degrees?),
    joints outside their safety range for more than :data:`OUTSIDE_SHARE` of the samples (another
    zero or direction of the angle?)."""
    out = []
    columns = {role: column for column, role in (traj.meta.get("columns") or {}).items()}
    if len(traj.t) > 2:
        spacing = float(np.median(np.diff(traj.t)))
        if spacing > SLOW_SAMPLES_S:
            unit, factor = min(_TIME_UNITS, key=lambda u: abs(math.log(spacing * u[1] / spec.control_dt)))
            out.append(
                f"samples {spacing:g} s apart (the robot's control period is {spec.control_dt:g} s): is the "
                f"time column in {unit}? a column map file can scale it (scale: {{{columns.get('time', 'TIME')}: "
                f"{factor:g}}}, docs/real_data.md)"
            )
    speed = np.percentile(np.abs(np.asarray(traj.qd, dtype=float)), 99, axis=0) if len(traj.t) else []
    limits = [float(spec.safety.velocity[spec.joints.index(j)]) if j in spec.joints else np.inf for j in traj.joint_names]
    fast = [
        f"{j} {v:.3g} rad/s (limit {lim:g})"
        for j, v, lim in zip(traj.joint_names, speed, limits, strict=True)
        if np.isfinite(v) and v > FAST_FACTOR * lim
    ]
    if fast:
        out.append(
            f"joints faster than {FAST_FACTOR:g} x their velocity limits: {', '.join(fast)}: are the angles in "
            "degrees? a column map file can scale them (docs/real_data.md)"
        )
    outside, degrees, turns = [], [], False
    for k, j in enumerate(traj.joint_names):
        if j not in spec.joints or not len(traj.t):
            continue
        i = spec.joints.index(j)
        lo, hi = float(spec.safety.position_low[i]), float(spec.safety.position_high[i])
        share = float(np.mean((traj.q[:, k] < lo) | (traj.q[:, k] > hi)))
        if share <= OUTSIDE_SHARE:
            continue
        q, q_deg = traj.q[:, k], np.radians(traj.q[:, k])  # what the values would be if they were degrees
        outside.append(f"{j} {100 * share:.0f} % (median {np.median(q):.3g}, range [{lo:g}, {hi:g}])")
        if np.mean((q_deg < lo) | (q_deg > hi)) <= 1 - OUTSIDE_SHARE:  # 3.1 (pi from zero) fits too: the
            turns |= bool(np.median(np.abs(q)) > 2 * np.pi)  # degrees need a joint beyond a full turn
            degrees.append(f"{j} (median {np.median(q):.3g}; {np.median(q_deg):.3g} rad if degrees, range [{lo:g}, {hi:g}])")
    if turns:
        outside = [line for line in outside if not any(line.startswith(d.split(" (")[0] + " ") for d in degrees)]
        out.append(
            f"joints outside their safety range that fit it in degrees: {', '.join(degrees)}: are the angles in "
            f"degrees? a column map file can scale them (scale: {{COLUMN: {math.pi / 180:.7g}}}, docs/real_data.md)"
        )
    if outside:
        out.append(
            f"joints outside their safety range for most of the log: {', '.join(outside)}: another zero or "
            "direction of the angle? a column map file can offset or flip it (offset, scale: -1; docs/real_data.md)"
        )
    return out


def _before_safe_mode(traj: Trajectory, name: str, cut: bool) -> Trajectory:
    """The log up to its first switch into safe mode (a ``mode`` event to ``safe``), with a warning;
    ``cut`` False: the whole log, with the warning only."""
    stop = next((ev for ev in traj.events if ev.kind == "mode" and ev.detail.get("to") == "safe"), None)
    if stop is None or not len(traj.t):
        return traj
    t0, t1 = float(traj.t[0]), float(traj.t[-1])
    why = stop.detail.get("reason") or "a safety stop"
    if not cut:
        log.warning("%s: safe mode from t = %.2f s of %.2f s (%s): the replay after it is a robot braking", name,
                    stop.t - t0, t1 - t0, why)  # fmt: skip
        return traj
    spacing = float(np.median(np.diff(traj.t))) if len(traj.t) > 1 else math.inf
    if stop.t - t0 < 3 * spacing:
        raise LogError(f"{name}: the robot is in safe mode from the start ({why}): nothing to identify from")
    log.warning("%s: safe mode from t = %.2f s (%s): only the %.2f s before it are used, of %.2f s", name,
                stop.t - t0, why, stop.t - t0, t1 - t0)  # fmt: skip
    return traj.slice_time(t0, float(stop.t))


def _check_joined_joints(spec: RobotSpec, traj: Trajectory, name: str) -> None:
    """Refuse, naming the topics read, a log whose joint states were joined from several topics (one
    driver per leg or bus) and that lacks some of the robot's joints: a driver's topic not recorded
    or not read, rather than another robot's log.

    Raises:
        LogError: Joints of the robot on none of the topics.
    """
    topics = traj.meta.get("joint_state_topics") or []
    missing = [j for j in spec.joints if j not in traj.joint_names]
    if len(topics) > 1 and missing:
        raise LogError(
            f"{name}: joints {missing} of robot '{spec.name}' are on none of the joint-state topics read "
            f"({', '.join(topics)}): record their driver's topic, or name it with --topic "
            f"joint_states={','.join(topics)},TOPIC"
        )


DRIVES_OFF_S = 0.2
"""Shortest stretch [s] (and at least :data:`DRIVES_OFF_SAMPLES` samples) over which every actuated
joint's measured effort is exactly 0 while commanded, for the drives to be taken as off."""
DRIVES_OFF_SAMPLES = 5


def drives_off(spec: RobotSpec, traj: Trajectory) -> list[tuple[int, int]]:
    """Stretches ``[i0, i1)`` of samples where the drives are off: every actuated joint's measured
    effort exactly 0 (no drive reports a true zero on every joint at once; an e-stopped robot lying
    down, a driver not yet enabled) while the command in force is not all 0, for at least
    :data:`DRIVES_OFF_S` and :data:`DRIVES_OFF_SAMPLES` samples.  None for a log without measured
    efforts, or whose effort column is its command."""
    if traj.tau is None or traj.meta.get("effort_is_command") or not traj.has_commands or len(traj.t) < 2:
        return []
    acts = [j for j in spec.actuated_joints if j in traj.joint_names and j in traj.command_joints]
    if not acts:
        return []
    zero = np.all(traj.tau[:, [traj.joint_index(j) for j in acts]] == 0.0, axis=1)
    cols = [traj.command_joints.index(j) for j in acts]
    commanded = np.any(traj.command_at(traj.t, before_first=0.0)[:, cols] != 0.0, axis=1)
    off = zero & commanded
    edges = np.diff(np.concatenate([[0], off.astype(np.int8), [0]]))
    out = []
    for i0, i1 in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if i1 - i0 >= DRIVES_OFF_SAMPLES and traj.t[i1 - 1] - traj.t[i0] >= DRIVES_OFF_S:
            out.append((int(i0), int(i1)))
    return out


def _drives_on(spec: RobotSpec, traj: Trajectory, name: str, cut: bool) -> Trajectory:
    """The log without its leading and trailing stretches of drives off (:func:`drives_off`), with a
    warning; ``cut`` False, or a stretch between others: the whole log, with the warning only.

    Raises:
        LogError: ``cut`` and the drives off throughout.
    """
    stretches = drives_off(spec, traj)
    if not stretches:
        return traj
    t = traj.t
    n = len(t)
    secs = sum(float(t[i1 - 1] - t[i0]) for i0, i1 in stretches)
    where = ", ".join(f"{t[i0] - t[0]:.2f}-{t[i1 - 1] - t[0]:.2f} s" for i0, i1 in stretches[:4])
    if cut and stretches == [(0, n)]:
        raise LogError(
            f"{name}: every actuated joint's effort is exactly 0 throughout while commanded (drives off, "
            "e-stopped?): nothing to identify from"
        )
    lo = stretches[0][1] if cut and stretches[0][0] == 0 else 0
    hi = stretches[-1][0] if cut and stretches[-1][1] == n else n
    log.warning(
        "%s: every actuated joint's effort is exactly 0 while commanded for %.2f s (%s): the drives were off "
        "(e-stopped, lying down, not yet enabled?); %s",
        name, secs, where,
        f"only {t[hi - 1] - t[lo]:.2f} s of {t[-1] - t[0]:.2f} s, without the stretches at its ends, are used"
        + (" (one between is left in)" if len(stretches) > (lo > 0) + (hi < n) else "")
        if (lo, hi) != (0, n) else "their samples are left in (a replay compares drives on with drives off)",
    )  # fmt: skip
    return traj if (lo, hi) == (0, n) else traj.slice_time(float(t[lo]), float(t[hi - 1]))


def csv_reader(spec: RobotSpec, csv_map: str) -> Callable[[str | Path], Trajectory]:
    """The reader of CSV logs of a robot through a column map: a built-in one by name, else a YAML
    column map file (checked against the robot's joints now, before any log is read).

    Raises:
        LogError: neither a built-in name nor a column map file, or a map file that is malformed
            or names joints the robot does not have.
    """
    if csv_map in CSV_MAPS:
        return CSV_MAPS[csv_map]
    path = Path(csv_map)
    if not path.exists() and path.suffix.lower() not in (".yaml", ".yml"):
        raise LogError(
            f"unknown CSV column map '{csv_map}': give a built-in map ({', '.join(CSV_MAPS)}) "
            "or a YAML column map file (docs/real_data.md)"
        )
    column_map = load_column_map(path)
    check_map_joints(column_map, spec.joints, spec.actuated_joints, spec.name, str(path))
    if spec.base_body is None and column_map.base_position is not None:
        log.warning(
            "%s: %s has no floating base: the map's base_* columns are read but nothing uses them", path, spec.name
        )
    meta = {"robot": spec.name, "column_map": str(path)}
    return lambda log_path: read_csv(log_path, column_map, tuple(spec.joints), meta=meta)


def _declared_hung(spec: RobotSpec, traj: Trajectory, name: str) -> Trajectory:
    """The log marked as recorded hung by the base (``--fixed-base``), where it does not say itself.

    Raises:
        LogError: A robot without a floating base; a log that says it was recorded free.
    """
    if spec.base_body is None:
        raise LogError(f"{spec.name} has no floating base: --fixed-base is for robots hung by their base")
    said = traj.meta.get("fixed_base")
    if said is None:
        log.info("%s: the log does not say how the robot was held: taken as hung by its base (--fixed-base)", name)
        return dataclasses.replace(traj, meta={**traj.meta, "fixed_base": True})
    if not said:
        raise LogError(f"{name}: recorded with the robot free (its own metadata), not hung: drop --fixed-base")
    return traj


def _with_base_state(spec: RobotSpec, traj: Trajectory, name: str) -> Trajectory:
    """A floating-base log with a base track: its own, else the estimator's over its IMU samples."""
    if spec.base_body is None or traj.base is not None or traj.meta.get("fixed_base") or not traj.has_imu:
        return traj
    log.info("%s: no base state in the log; estimating it from the IMU, joint encoders and torques", name)
    meta = {**traj.meta, "base_estimated": "from the IMU, joint encoders and torques"}
    return dataclasses.replace(traj, base_estimate=estimate_track(spec, traj), meta=meta)
