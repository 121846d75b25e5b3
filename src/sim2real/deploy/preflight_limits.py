"""Preflight's ``limits`` item: what is wrong with a spec's software limits against its model and
against the robot's own MJCF (:mod:`~sim2real.deploy.preflight` makes the item).  Numpy and MuJoCo."""

from __future__ import annotations

import math

import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.spec import RobotSpec
from sim2real.text import few


def limit_problems(spec: RobotSpec) -> tuple[list[str], dict[str, dict[str, float]], str]:
    """What is wrong with a spec's software limits: every joint's inside the model's ranges, torque
    limits within what the robot's own model (its MJCF as given, before the spec's actuators replace
    its own) lets each actuator give at its joint
    (:func:`~sim2real.robots.init_actuators.joint_torque_limit`), but for the joints
    ``safety.torque_above_model`` accepts above it.

    Returns:
        The problems (one line each; none: the limits pass), the accepted joints (joint -> its
        ``limit`` and the ``model``'s [N m]), and a summary of the limits checked.

    Raises:
        SpecError: The robot's own MJCF does not compile.
    """
    import mujoco

    from sim2real.robots.init_actuators import joint_torque_limit
    from sim2real.robots.load import load_mjcf
    from sim2real.robots.model import build_model

    model = build_model(spec)
    try:
        own = load_mjcf(spec.mjcf_path).compile()
    except ValueError as exc:  # MuJoCo's compile error; the spec's model compiled above
        raise SpecError(f"{spec.name}: {spec.mjcf_path.name} does not compile as given ({exc})") from None
    s = spec.safety
    problems = []
    accepted: dict[str, dict[str, float]] = {}  # joint -> its limit and the model's [N m]
    for j, name in enumerate(spec.joints):
        lo, hi = float(s.position_low[j]), float(s.position_high[j])
        if not (math.isfinite(lo) and math.isfinite(hi)):
            problems.append(f"{name}: no finite position limits")
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if model.jnt_limited[jid]:
            r_lo, r_hi = (float(x) for x in model.jnt_range[jid])
            if lo < r_lo - 1e-9 or hi > r_hi + 1e-9:
                problems.append(
                    f"{name}: position limits [{lo:g}, {hi:g}] outside the model's range [{r_lo:g}, {r_hi:g}]"
                )
        if not math.isfinite(float(s.velocity[j])):
            problems.append(f"{name}: no finite velocity limit")
    for a in spec.actuators:
        j = spec.joints.index(a.joint)
        limit = float(s.torque[j])
        if not math.isfinite(limit):
            problems.append(f"{a.joint}: no finite torque limit")
        aid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator)
        if model.actuator_forcelimited[aid] and limit > float(model.actuator_forcerange[aid][1]) * (1 + 1e-9):
            problems.append(f"{a.joint}: torque limit {limit:g} beyond the actuator's force range")
        own_aid = -1 if a.add else mujoco.mj_name2id(own, mujoco.mjtObj.mjOBJ_ACTUATOR, a.actuator)
        own_jid = mujoco.mj_name2id(own, mujoco.mjtObj.mjOBJ_JOINT, a.joint)
        if own_jid < 0:  # a joint the spec adds (none today): the robot's own model states nothing of it
            continue
        stated = joint_torque_limit(own, own_aid, own_jid)
        above = stated is not None and limit > stated * (1 + 1e-9)
        if above and a.joint in s.torque_above_model:
            accepted[a.joint] = {"limit": limit, "model": float(stated)}
        elif above:
            problems.append(
                f"{a.joint}: torque limit {limit:g} N m beyond the {stated:g} N m the model's actuator can give the "
                "joint (a conservative vendor model: list the joint in safety.torque_above_model)"
            )
        elif a.joint in s.torque_above_model:  # an acceptance nothing needs would pass a later raise unseen
            model_says = "states no limit" if stated is None else f"gives {stated:g} N m"
            problems.append(
                f"{a.joint}: in safety.torque_above_model, but its torque limit {limit:g} N m is not above the "
                f"model's (its actuator {model_says}): drop it from the list"
            )
    problems += _weight_problems(spec, model, accepted_weight := {})
    rates = s.command_rate[[spec.joints.index(j) for j in spec.actuated_joints]]
    if not np.all(np.isfinite(rates)):
        unbounded = [j for j, r in zip(spec.actuated_joints, rates, strict=True) if not math.isfinite(r)]
        problems.append(f"no finite command rate limit ({', '.join(unbounded[:4])}{' ...' if len(unbounded) > 4 else ''})")
    summary = (
        f"{len(spec.joints)} joints: position limits inside the model's ranges, velocity limits "
        f"{np.asarray(s.velocity).min():g}..{np.asarray(s.velocity).max():g} rad/s, torque limits on "
        f"{spec.n_actions} actuators, command rate {_span(rates)}/s"
    )
    if accepted_weight:
        from sim2real.robots.init_checks import IMPLAUSIBLE_TORQUE

        summary += f"; torque limits over {IMPLAUSIBLE_TORQUE:g}x the robot's weight scale accepted (safety.torque_above_weight): " + ", ".join(
            f"{j} {x:.0f}x" for j, x in accepted_weight.items()
        )
    return problems, accepted, summary


def _weight_problems(spec: RobotSpec, model: object, accepted: dict[str, float]) -> list[str]:
    """Torque limits over :data:`~sim2real.robots.init_checks.IMPLAUSIBLE_TORQUE` x what the robot's
    weight asks of the joint (:func:`~sim2real.robots.init_checks.weight_scale`): a placeholder effort
    (example-robot-data's Solo and Bolt state 1,000 N m on a 1.3 and a 0.6 kg robot) that the torque
    clamp and the collision observer's thresholds never reach, unless ``safety.torque_above_weight``
    lists the joint; a listed joint not above it is a problem too.  ``accepted`` gets the listed
    joints above it (joint -> multiple of the scale)."""
    import mujoco

    from sim2real.robots.init_checks import IMPLAUSIBLE_TORQUE, weight_scale

    problems, high = [], []
    for a in spec.actuators:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, a.joint)
        scale = weight_scale(model, jid)
        limit = float(spec.safety.torque[spec.joints.index(a.joint)])
        if not (scale > 0 and math.isfinite(limit)):
            continue
        above = limit > IMPLAUSIBLE_TORQUE * scale
        if above and a.joint in spec.safety.torque_above_weight:
            accepted[a.joint] = limit / scale
        elif above:
            high.append(f"{a.joint} {limit:g} ({limit / scale:.0f}x)")
        elif a.joint in spec.safety.torque_above_weight:
            problems.append(
                f"{a.joint}: in safety.torque_above_weight, but its torque limit {limit:g} is not above "
                f"{IMPLAUSIBLE_TORQUE:g} x its weight scale {scale:.3g}: drop it from the list"
            )
    if high:
        shown = few(high, 3)
        problems.insert(
            0,
            f"torque limits over {IMPLAUSIBLE_TORQUE:g}x what the robot's weight asks of a joint ({shown}; "
            "mass x g x the model's extent): a placeholder effort the torque clamp and the collision thresholds "
            "never reach: state the motors' real limits in safety.joint_torque (robot init --torque-limit), or "
            "list the joints in safety.torque_above_weight",
        )
    return problems


def _span(values: np.ndarray) -> str:
    """``a`` or ``a..b``: the range of some limits."""
    low, high = float(np.min(values)), float(np.max(values))
    return f"{low:g}" if low == high else f"{low:g}..{high:g}"
