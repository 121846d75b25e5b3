"""``robot init``'s choices (:class:`InitOptions`) and what it found (:class:`InitResult`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim2real.robots.init_actuators import PerJoint

__all__ = ["InitOptions", "InitResult"]


@dataclass(frozen=True)
class InitOptions:
    """Choices of :func:`~sim2real.robots.init.infer_spec` (every field has a default)."""

    name: str | None = None
    """Robot name; default: the model's name."""
    joints: str | None = None
    """Regular expression the chosen joints' names match in full; None: every hinge and slide joint."""
    keyframe: str | None = None
    """Keyframe of the default pose and initial base pose; None: the first keyframe, else qpos0."""
    kp: PerJoint = None
    """PD stiffness [N m/rad]: one value or per joint; with ``kd``, makes motors and missing actuators pd."""
    kd: PerJoint = None
    """PD damping [N m s/rad], like ``kp``."""
    torque_limit: PerJoint = None
    """Effort limit [N m], one value or per joint: replaces the model's (a line under ``inferred`` and
    ``replaced`` names both where they differ); the model's where not given."""
    torque_limit_from: str = "--torque-limit"
    """Where ``torque_limit`` comes from (the user's option, a policy's training config), for messages."""
    torque: str | None = None
    """Regular expression (matched in full) of the joints driven by torque commands: a torque
    actuator is added where the model has none (a URDF), their own becomes one."""
    default_pose: Mapping[str, float] | None = None
    """Default joint positions [rad] overriding the keyframe's, by joint name or regular expression
    matched in full (the last matching key wins)."""
    imu_site: str | None = None
    """IMU site; None: chosen or added (see the docstring of :mod:`sim2real.robots.init`)."""
    control_dt: float = 0.02
    """Control period [s]."""
    physics_dt: float = 0.005
    """Largest physics timestep [s] (substeps = ceil(control_dt / physics_dt))."""
    margin: float = 0.05
    """Safety position limits this far inside the joint ranges [rad]."""
    action_scale: float = 0.5
    """Action scale of pd joints [rad per unit action]; torque joints use their torque limit."""
    floating_base: bool = False
    """URDF only: add a free joint to the root link and a floor (URDF robots are fixed otherwise)."""
    armature: PerJoint = None
    """Joint armature [kg m^2] (the spec's ``armature:``, an override), one value or per joint."""
    hold: str | None = None
    """Regular expression (matched in full) of pd joints held at their default pose, observed but not
    driven by the policy (the spec's ``action.hold``): an arm on a walking robot."""
    hold_from: str = "--hold"
    """Where ``hold`` comes from (the user's option, or an imported policy that does not drive those
    joints): only the user's is told that it holds a leg joint."""


@dataclass
class InitResult:
    """What :func:`~sim2real.robots.init.infer_spec` found."""

    spec: dict[str, Any]
    """The spec mapping (YAML-ready)."""
    inferred: list[str] = field(default_factory=list)
    """What was inferred, one line each."""
    check: list[str] = field(default_factory=list)
    """What the user must check, one line each."""
    comments: dict[str, str] = field(default_factory=dict)
    """A comment above each top-level key of the written file."""
    zero_pose: bool = False
    """Some joints of the default pose are the model's qpos0 because it has no keyframe (a URDF's
    straight legs), not a pose the robot stands in."""
    given: list[str] = field(default_factory=list)
    """The joints whose default pose the user gave (``--default-pose``)."""
    replaced: list[str] = field(default_factory=list)
    """Where a given value replaced the model's own (also in ``inferred``), one line each."""
    leg_ends: list[str] = field(default_factory=list)
    """The ends of the legs where the default pose rests the robot on bodies above them (a folded
    keyframe), else empty."""
