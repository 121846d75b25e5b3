"""What task terms read: the :class:`TermEnv` protocol, and :class:`MeasuredState`, its one
implementation over measured or logged state.

Every reward, termination and success term is a pure function ``(env: TermEnv, **params)``.  The
training environment (:class:`sim2real.envs.core.TaskEnv`) implements the protocol over its
simulations; everything that judges a robot's behaviour from what was measured (the deploy loop's
reward meter, the deployment episodes' judge, fine-tuning's episode builder, the envelope and the
failure analysis) uses a :class:`MeasuredState` over the samples it has.  A term that reads
something the state does not hold raises :class:`StateUnavailableError` (an ``AttributeError``) naming
the attribute, so a caller can say in one line what its source lacks.

Shapes: N is the batch (simulations, or samples of a log); n joints, m actions.

================== ================ ====================================================
attribute          shape            meaning
================== ================ ====================================================
spec               --               the RobotSpec
num_envs           int              N
control_dt         float            control period [s]
joint_pos          (N, n)           joint positions [rad]
joint_vel          (N, n)           joint velocities [rad/s]
joint_torque       (N, m)           actuator torques [N m]
filtered_action    (N, m)           action after the low-pass, in [-1, 1]
prev_action        (N, m)           filtered action of the previous step
velocity_command   (N, 3)           commanded vx [m/s], vy [m/s], yaw rate [rad/s]
base_height        (N,)             floating base height [m]
base_quat          (N, 4)           base orientation (w, x, y, z)
projected_gravity  (N, 3)           unit gravity in the base frame ((0, 0, -1) upright)
base_lin_vel       (N, 3)           base linear velocity in the base frame [m/s]
base_ang_vel       (N, 3)           base angular velocity in the base frame [rad/s]
feet               FootContacts     foot contact bookkeeping (legged tasks)
================== ================ ====================================================
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from sim2real.robots.spec import RobotSpec
from sim2real.tasks.observations import quat_rotate_inverse


class StateUnavailableError(AttributeError):
    """A term read state this source does not hold (``name`` is the attribute)."""


class FootContacts(Protocol):
    """Foot contact bookkeeping of a legged task, shape (N, n_feet) each."""

    contact: np.ndarray
    """Foot on the floor (bool)."""
    air_time: np.ndarray
    """Time in the air of the current swing [s]."""
    last_air_time: np.ndarray
    """Air time of the swing that just ended [s]."""
    first_contact: np.ndarray
    """The foot landed this step (bool)."""


class TermEnv(Protocol):
    """The state task terms read (see the module docstring for shapes and units)."""

    spec: RobotSpec
    num_envs: int
    control_dt: float

    @property
    def joint_pos(self) -> np.ndarray: ...
    @property
    def joint_vel(self) -> np.ndarray: ...
    @property
    def joint_torque(self) -> np.ndarray: ...
    @property
    def filtered_action(self) -> np.ndarray: ...
    @property
    def prev_action(self) -> np.ndarray: ...
    @property
    def velocity_command(self) -> np.ndarray: ...
    @property
    def base_height(self) -> np.ndarray: ...
    @property
    def base_quat(self) -> np.ndarray: ...
    @property
    def projected_gravity(self) -> np.ndarray: ...
    @property
    def base_lin_vel(self) -> np.ndarray: ...
    @property
    def base_ang_vel(self) -> np.ndarray: ...
    @property
    def feet(self) -> FootContacts: ...


_FIELDS = (
    "joint_pos",
    "joint_vel",
    "joint_torque",
    "filtered_action",
    "prev_action",
    "velocity_command",
    "base_height",
    "base_quat",
    "base_lin_vel",
    "base_ang_vel",
    "feet",
)


class MeasuredState:
    """A :class:`TermEnv` over given arrays (measured, logged or estimated state).

    Every field of the protocol is a keyword argument (None: not available, reading it raises
    :class:`StateUnavailableError`); ``projected_gravity`` follows from ``base_quat``.  Fields may be
    replaced between calls with :meth:`update` (a deploy loop's one-row state, updated every tick).

    Args:
        spec: The robot.
        control_dt: Period of the samples [s]; default the spec's control period.
        **fields: Arrays of the protocol, batched over the same N.
    """

    def __init__(self, spec: RobotSpec, control_dt: float | None = None, **fields: Any) -> None:
        self.spec = spec
        self.control_dt = float(spec.control_dt if control_dt is None else control_dt)
        self._values: dict[str, Any] = dict.fromkeys(_FIELDS)
        self.update(**fields)

    def update(self, **fields: Any) -> MeasuredState:
        """Replace some fields (arrays as in the protocol; None makes one unavailable)."""
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise TypeError(f"MeasuredState has no field {', '.join(unknown)} (fields: {', '.join(_FIELDS)})")
        for name, value in fields.items():
            if value is not None and name != "feet":
                value = np.asarray(value, dtype=float)
                value = value.reshape(-1) if name == "base_height" else np.atleast_2d(value)
            self._values[name] = value
        return self

    @property
    def num_envs(self) -> int:
        """Batch size N (from the joint positions)."""
        return int(self._get("joint_pos").shape[0])

    def _get(self, name: str) -> Any:
        value = self._values[name]
        if value is None:
            raise StateUnavailableError(f"{name} is not available here", name=name, obj=self)
        return value

    @property
    def projected_gravity(self) -> np.ndarray:
        """Unit gravity direction in the base frame (N, 3), from ``base_quat``."""
        return quat_rotate_inverse(self._get("base_quat"), np.array([0.0, 0.0, -1.0]))

    def available(self, name: str) -> bool:
        """Whether a field of the protocol is set."""
        if name == "projected_gravity":
            name = "base_quat"
        return self._values.get(name) is not None


def _field(name: str) -> property:
    return property(lambda self: self._get(name), doc=f"``{name}`` (see the module docstring).")


for _name in _FIELDS:
    setattr(MeasuredState, _name, _field(_name))
