"""Named physical parameters: one flat namespace for randomization, identification, twin and reports.

Names (values are absolute SI values):

=================================  ====  =========  ==============================================
name                               size  unit       model field
=================================  ====  =========  ==============================================
``body.<b>.mass``                  1     kg         body_mass (body_inertia scaled along, unless set too)
``body.<b>.com``                   3     m          body_ipos
``body.<b>.inertia``               3     kg m^2     body_inertia (principal moments)
``geom.<g>.friction``              1     -          geom_friction[:, 0] (sliding)
``joint.<j>.damping``              1     N m s/rad  dof_damping
``joint.<j>.frictionloss``         1     N m        dof_frictionloss
``joint.<j>.armature``             1     kg m^2     dof_armature
``joint.<j>.stribeck``             1     N m        jnt_user[:, 0] (Stribeck friction, robots/friction.py)
``joint.<j>.stribeck_velocity``    1     rad/s      jnt_user[:, 1] (Stribeck velocity)
``actuator.<a>.kp`` / ``.kd``      1     N m/rad    PD gains (pd actuators; kd in N m s/rad)
``actuator.<a>.strength``          1     -          scale of the actuator's torque
``actuator.<a>.offset``            1     rad        target offset (pd actuators)
``actuator.<a>.delay``             1     s          actuator_delay (MuJoCo's native delay)
``actuator.<a>.torque_limit``      1     N m        actuator_forcerange
``motor.<a>.resistance``           1     Ohm        DC motor (dc_motor actuators)
``motor.<a>.kt`` / ``.ke``         1     N m/A      DC motor constants
``sensor.<s>.bias``                dim   -          sensor_user[:, :dim], added to the reading
``sensor.<s>.noise``               1     -          sensor_noise (white noise std)
``sensor.<s>.delay``               1     s          sensor_delay (MuJoCo's native delay)
``world.gravity``                  3     m/s^2      opt.gravity
=================================  ====  =========  ==============================================

The units are a hinge's; a slide joint's parameters, and those of the actuator driving one, are
in metres and newtons instead (armature kg, kp N/m, offset m, torque limit N).  Units, physical
domains and default bounds of each kind are :mod:`sim2real.param_kinds`'.

A ``*`` matches a group (``body.*.mass``, ``actuator.*.delay``).  :class:`Parameters` resolves
names against a robot and reads or writes them on an ``MjSpec``, an ``MjModel`` or a
``mujoco.batch.Batch`` (per simulation).  Actuator physical values live in ``actuator_user`` and
the affine coefficients are recomputed from them after every write
(see :mod:`sim2real.robots.actuation`).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.errors import ParameterError
from sim2real.param_kinds import (
    NONNEGATIVE,
    POSITIVE,
    default_bounds,
    slides,
    split_name,
    unit_of,
)
from sim2real.robots.actuation import ACTUATOR_USER, SENSOR_USER, affine_coefficients
from sim2real.robots.collide import collides
from sim2real.robots.friction import JOINT_USER
from sim2real.robots.spec import RobotSpec
from sim2real.text import and_more

logger = logging.getLogger(__name__)

__all__ = [
    "ParamInfo",
    "Parameters",
    "delay_capacity",
    "is_delay",
    "needs_set_const",
]

_SETCONST_FIELDS = {"body_mass", "body_inertia", "body_ipos", "dof_armature"}
"""Model fields that ``mj_setConst`` derives other fields from (see :func:`needs_set_const`)."""


@dataclass(frozen=True, eq=False)
class ParamInfo:
    """One concrete named parameter of a robot."""

    name: str
    """Full name, e.g. ``body.pole.mass``."""
    group: str
    """First part of the name: body, geom, joint, actuator, motor, sensor or world."""
    element: str
    """Element name (body, geom, joint, actuator or sensor name; ``world`` for world)."""
    quantity: str
    """Last part of the name, e.g. ``mass``."""
    size: int
    """Number of values."""
    unit: str
    """SI unit (a slide joint's in m and N, :data:`~sim2real.param_kinds.SLIDE_UNITS`)."""
    index: int
    """MuJoCo id of the element (-1 for world)."""
    nominal: np.ndarray
    """Nominal value from the robot's model, shape (size,)."""
    low: np.ndarray
    """Lowest plausible value, shape (size,)."""
    high: np.ndarray
    """Highest plausible value, shape (size,)."""


class Parameters:
    """The named parameters of one robot, resolved against its compiled model.

    Args:
        spec: The robot.
        model: The robot's nominal compiled model (``sim2real.robots.model.build_model(spec)``).
    """

    def __init__(self, spec: RobotSpec, model: mujoco.MjModel) -> None:
        self.spec = spec
        self.model = model
        self._info: dict[str, ParamInfo] = {}
        for name, group, element, quantity, index in self._enumerate():
            nominal = np.atleast_1d(np.asarray(self._read_model(model, group, quantity, index), float)).copy()
            size = nominal.size
            slide = slides(model, group, index)
            low, high = default_bounds(group, quantity, nominal, slide)
            self._info[name] = ParamInfo(
                name, group, element, quantity, size, unit_of(group, quantity, slide), index, nominal, low, high
            )
        for bound in spec.parameter_bounds:
            matched = self.resolve([bound.name], strict=False)
            if not matched and _replaced_by_networks(spec, bound.name):
                continue  # gains or motor constants of drives an actuator network simulates
            if not matched:
                raise ParameterError(f"{spec.name}: parameter bound '{bound.name}' matches no parameter")
            for name in matched:
                info = self._info[name]
                if len(bound.low) not in (1, info.size):
                    raise ParameterError(
                        f"{spec.name}: bound of '{bound.name}' has {len(bound.low)} values, {name} has {info.size}"
                    )
                low = np.broadcast_to(np.array(bound.low, dtype=float), (info.size,)).copy()
                high = np.broadcast_to(np.array(bound.high, dtype=float), (info.size,)).copy()
                for arr in (low, high):
                    arr.setflags(write=False)
                self._info[name] = ParamInfo(**{**info.__dict__, "low": low, "high": high})

    # ------------------------------------------------------------------ names
    def _enumerate(self) -> Iterable[tuple[str, str, str, str, int]]:
        m = self.model
        for b in range(1, m.nbody):
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b)
            if name and m.body_mass[b] > 0:
                yield f"body.{name}.mass", "body", name, "mass", b
                yield f"body.{name}.com", "body", name, "com", b
                yield f"body.{name}.inertia", "body", name, "inertia", b
        for g in range(m.ngeom):
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g)
            if name and collides(m, g):
                yield f"geom.{name}.friction", "geom", name, "friction", g
        for j in range(m.njnt):
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j)
            if name and int(m.jnt_type[j]) in (
                int(mujoco.mjtJoint.mjJNT_HINGE),
                int(mujoco.mjtJoint.mjJNT_SLIDE),
            ):
                for q in ("damping", "frictionloss", "armature", *JOINT_USER):
                    yield f"joint.{name}.{q}", "joint", name, q, j
        for act in self.spec.actuators:
            a = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, act.actuator)
            quantities = ["strength", "delay", "torque_limit"]
            if act.model == "pd":  # a network's drive: its target offset, not its gains
                quantities += ["offset"] if act.net is not None else ["kp", "kd", "offset"]
            for q in quantities:
                yield f"actuator.{act.actuator}.{q}", "actuator", act.actuator, q, a
            if act.model == "dc_motor" and act.net is None:
                for q in ("resistance", "kt", "ke"):
                    yield f"motor.{act.actuator}.{q}", "motor", act.actuator, q, a
        for s in range(m.nsensor):
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SENSOR, s)
            if name:
                for q in ("bias", "noise", "delay"):
                    yield f"sensor.{name}.{q}", "sensor", name, q, s
        yield "world.gravity", "world", "world", "gravity", -1

    @property
    def names(self) -> list[str]:
        """Every concrete parameter name of the robot, in a stable order."""
        return list(self._info)

    def info(self, name: str) -> ParamInfo:
        """Description of one concrete parameter."""
        try:
            return self._info[name]
        except KeyError:
            split_name(name)  # raises for malformed names
            raise ParameterError(f"{self.spec.name} has no parameter '{name}'") from None

    def resolve(self, patterns: Sequence[str] | str, *, strict: bool = True) -> list[str]:
        """Concrete names matching names or ``*`` patterns, in registry order, without repeats.

        Raises:
            ParameterError: (strict) when a pattern is malformed or matches nothing.
        """
        if isinstance(patterns, str):
            patterns = [p.strip() for p in patterns.split(",") if p.strip()]
        out: list[str] = []
        for pattern in patterns:
            split_name(pattern.replace("*", "x"))
            hits = [n for n in self._info if fnmatch.fnmatchcase(n, pattern)]
            if strict and not hits:
                raise ParameterError(f"'{pattern}' matches no parameter of {self.spec.name}")
            out.extend(h for h in hits if h not in out)
        return out

    # ------------------------------------------------------------- raw access
    @staticmethod
    def _field(group: str, quantity: str) -> tuple[str, object]:
        """(model field, column selector) of a parameter kind."""
        table: dict[tuple[str, str], tuple[str, object]] = {
            ("body", "mass"): ("body_mass", None),
            ("body", "com"): ("body_ipos", slice(0, 3)),
            ("body", "inertia"): ("body_inertia", slice(0, 3)),
            ("geom", "friction"): ("geom_friction", 0),
            ("joint", "damping"): ("dof_damping", None),
            ("joint", "frictionloss"): ("dof_frictionloss", None),
            ("joint", "armature"): ("dof_armature", None),
            ("joint", "stribeck"): ("jnt_user", JOINT_USER.index("stribeck")),
            ("joint", "stribeck_velocity"): ("jnt_user", JOINT_USER.index("stribeck_velocity")),
            ("actuator", "delay"): ("actuator_delay", None),
            ("actuator", "torque_limit"): ("actuator_forcerange", 1),
            ("sensor", "bias"): ("sensor_user", "bias"),
            ("sensor", "noise"): ("sensor_noise", None),
            ("sensor", "delay"): ("sensor_delay", None),
            ("world", "gravity"): ("opt.gravity", slice(0, 3)),
        }
        if (group, quantity) in table:
            return table[(group, quantity)]
        return "actuator_user", ACTUATOR_USER.index(quantity)

    def _row(self, group: str, index: int, field: str = "") -> int:
        if group == "joint" and field != "jnt_user":
            return int(self.model.jnt_dofadr[index])
        return index

    def _read_model(self, model: mujoco.MjModel, group: str, quantity: str, index: int) -> np.ndarray:
        field, col = self._field(group, quantity)
        if field == "opt.gravity":
            return np.array(model.opt.gravity)
        arr = getattr(model, field)
        row = arr[self._row(group, index, field)]
        if col == "bias":
            return np.array(row[: model.sensor_dim[index]])
        return np.array(row if col is None else row[col])

    # ------------------------------------------------------------------ get
    def get(self, target: mujoco.MjModel | mujoco.MjSpec | mujoco.batch.Batch, name: str) -> np.ndarray:
        """Current value of a concrete parameter.

        Returns:
            Shape (size,) for a model or spec; (nsim, size) for a batch.
        """
        info = self.info(name)
        if isinstance(target, mujoco.MjModel):
            return np.atleast_1d(self._read_model(target, info.group, info.quantity, info.index)).astype(
                float
            )
        if isinstance(target, mujoco.MjSpec):
            return self.get(target.compile(), name)
        if isinstance(target, mujoco.batch.Batch):
            field, col = self._field(info.group, info.quantity)
            arr = target.expanded(field)
            if arr is None:
                base = np.atleast_1d(self._read_model(self.model, info.group, info.quantity, info.index))
                return np.tile(base.astype(float), (target.nsim, 1))
            if field == "opt.gravity":
                return np.array(arr, dtype=float).reshape(target.nsim, 3)
            row = arr[:, self._row(info.group, info.index, field)]
            if col == "bias":
                col = slice(0, info.size)
            value = row if col is None else row[:, col]
            return np.array(value, dtype=float).reshape(target.nsim, info.size)
        raise ParameterError(f"cannot read parameters from a {type(target).__name__}")

    def nominal(self) -> dict[str, np.ndarray]:
        """Nominal value of every parameter."""
        return {n: i.nominal.copy() for n, i in self._info.items()}

    # ------------------------------------------------------------------ set
    def _check_value(self, info: ParamInfo, value: np.ndarray, nsim: int | None) -> np.ndarray:
        value = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(value)):
            raise ParameterError(f"{info.name}: value must be finite, got {value}")
        try:
            if nsim is None:
                return np.broadcast_to(value, (info.size,)).copy()
            return np.broadcast_to(
                value.reshape(-1, info.size) if value.ndim else value, (nsim, info.size)
            ).copy()
        except ValueError:
            raise ParameterError(
                f"{info.name}: expected {info.size} value(s), got shape {value.shape}"
            ) from None

    def set(
        self,
        target: mujoco.MjModel | mujoco.MjSpec | mujoco.batch.Batch,
        values: Mapping[str, object],
        ids: np.ndarray | None = None,
    ) -> None:
        """Write parameter values (names or patterns) into a model, a spec or a batch.

        Args:
            target: Where to write.
            values: name or pattern -> value; a value is (size,) for every simulation, or
                (n, size) with one row per simulation of ``ids`` (batch only).
            ids: Simulations of a batch to write (None: all).

        Raises:
            ParameterError: unknown names, wrong sizes, non-finite or non-physical values.
        """
        expanded: dict[str, object] = {}
        for key, value in values.items():
            if key in self._info:  # a concrete name: no pattern matching (per-reset writes stay cheap)
                expanded[key] = value
                continue
            for name in self.resolve([key]):
                expanded[name] = value
        if isinstance(target, mujoco.MjSpec):
            self._set_spec(target, expanded)
        elif isinstance(target, mujoco.MjModel):
            self._set_model(target, expanded)
        elif isinstance(target, mujoco.batch.Batch):
            self._set_batch(target, expanded, ids)
        else:
            raise ParameterError(f"cannot write parameters to a {type(target).__name__}")

    def _physical(self, info: ParamInfo, value: np.ndarray) -> None:
        q = info.quantity
        if q in POSITIVE and np.any(value <= 0):
            raise ParameterError(f"{info.name} must be positive, got {value.min():g}")
        if q in NONNEGATIVE and np.any(value < 0):
            raise ParameterError(f"{info.name} must not be negative, got {value.min():g}")
        if q == "delay":
            capacity = self._delay_capacity(info)
            if np.any(value > capacity + 1e-12):
                raise ParameterError(
                    f"{info.name} = {value.max():g} s exceeds the model's delay capacity {capacity:g} s "
                    "(raise the parameter's bound in the spec)"
                )

    def _set_model(self, model: mujoco.MjModel, values: Mapping[str, object]) -> None:
        need_const = False
        touched_actuators = set()
        for name, raw in values.items():
            info = self.info(name)
            value = self._check_value(info, np.asarray(raw), None)
            self._physical(info, value)
            field, col = self._field(info.group, info.quantity)
            if field == "opt.gravity":
                model.opt.gravity[:] = value
                continue
            arr = getattr(model, field)
            row = self._row(info.group, info.index, field)
            if col == "bias":
                col = slice(0, info.size)
            if field == "body_mass" and f"body.{info.element}.inertia" not in values:
                old = float(arr[row])
                model.body_inertia[row] *= value[0] / old
            if field == "actuator_forcerange":
                arr[row] = [-value[0], value[0]]
            elif col is None:
                arr[row] = value[0] if arr.ndim == 1 else value
            else:
                arr[row, col] = value if info.size > 1 else value[0]
            need_const |= field in _SETCONST_FIELDS
            if field == "actuator_user":
                touched_actuators.add(row)
        for a in touched_actuators:
            gain0, bias = affine_coefficients(model.actuator_user[a])
            model.actuator_gainprm[a, 0] = gain0
            model.actuator_biasprm[a, :3] = bias
        if need_const:
            mujoco.mj_setConst(model, mujoco.MjData(model))

    def _set_batch(self, batch: mujoco.batch.Batch, values: Mapping[str, object], ids) -> None:
        """One check and one write per kind of parameter (a reset writes hundreds of them)."""
        sel = np.arange(batch.nsim) if ids is None else np.asarray(ids, dtype=np.int64)
        n = len(sel)
        kinds: dict[tuple[str, str, int], list[tuple[ParamInfo, object]]] = {}
        for name, raw in values.items():
            info = self.info(name)
            kinds.setdefault((info.group, info.quantity, info.size), []).append((info, raw))
        explicit_inertia = {i.index for (_, q, _), items in kinds.items() if q == "inertia" for i, _ in items}
        need_const = False
        touched_actuators = False
        for (group, quantity, size), items in kinds.items():
            infos = [info for info, _ in items]
            ready = all(isinstance(r, np.ndarray) and r.shape == (n, size) for _, r in items)
            if ready:  # (n, size) rows already: stack and check them at once
                value = np.stack([r for _, r in items], axis=1).astype(float, copy=False)
                if not np.all(np.isfinite(value)):
                    bad = infos[int(np.flatnonzero(~np.isfinite(value).all(axis=(0, 2)))[0])]
                    raise ParameterError(f"{bad.name}: value must be finite")
            else:
                value = np.stack([self._check_value(i, np.asarray(r), n) for i, r in items], axis=1)
            self._physical_many(infos, value)
            field, col = self._field(group, quantity)
            arr = batch.expand(field)
            if field == "opt.gravity":
                arr[sel] = value[:, -1]
                continue
            rows = np.array([self._row(group, i.index, field) for i in infos], dtype=np.int64)
            at = np.ix_(sel, rows)
            if field == "body_mass":
                scaled = np.array([i.index not in explicit_inertia for i in infos])
                if scaled.any():
                    inertia = batch.expand("body_inertia")
                    at_scaled = np.ix_(sel, rows[scaled])
                    inertia[at_scaled] *= (value[:, scaled, 0] / arr[at_scaled])[..., None]
            if field == "actuator_forcerange":
                arr[at] = np.stack([-value[..., 0], value[..., 0]], axis=-1)
            elif col is None:
                arr[at] = value[..., 0] if arr.ndim == 2 else value
            elif col == "bias" or isinstance(col, slice):
                columns = np.arange(size) if col == "bias" else np.arange(col.start, col.stop)
                arr[np.ix_(sel, rows, columns)] = value
            else:
                arr[np.ix_(sel, rows, [col])] = value
            need_const |= field in _SETCONST_FIELDS
            touched_actuators |= field == "actuator_user"
        if touched_actuators:
            user = batch.expand("actuator_user")
            gain0, bias = affine_coefficients(user[sel])
            gainprm = batch.expand("actuator_gainprm")
            biasprm = batch.expand("actuator_biasprm")
            gainprm[sel, :, 0] = gain0
            biasprm[sel, :, :3] = bias
        if need_const:
            batch.set_const(sel)

    def _delay_capacity(self, info: ParamInfo) -> float:
        return delay_capacity(self.model, info)

    def _physical_many(self, infos: list[ParamInfo], value: np.ndarray) -> None:
        """:meth:`_physical` of parameters of one kind at once; value (n, k, size)."""
        if infos[0].quantity == "delay":  # each element against its own buffer
            capacity = np.array([self._delay_capacity(i) for i in infos])
            if np.all(value >= 0) and np.all(value <= capacity[None, :, None] + 1e-12):
                return
        else:
            try:
                self._physical(infos[0], value)
                return
            except ParameterError:
                pass
        for k, info in enumerate(infos):  # name the offending parameter
            self._physical(info, value[:, k])

    def _set_spec(self, mjspec: mujoco.MjSpec, values: Mapping[str, object]) -> None:
        compiled = None
        for name, raw in values.items():
            info = self.info(name)
            value = self._check_value(info, np.asarray(raw), None)
            self._physical(info, value)
            g, el, q = info.group, info.element, info.quantity
            if g == "body":
                body = mjspec.body(el)
                if not body.explicitinertial:
                    compiled = compiled or mjspec.compile()
                    body.explicitinertial = True
                    body.mass = float(compiled.body_mass[info.index])
                    body.ipos = compiled.body_ipos[info.index].copy()
                    body.iquat = compiled.body_iquat[info.index].copy()
                    body.inertia = compiled.body_inertia[info.index].copy()
                if q == "mass":
                    if f"body.{el}.inertia" not in values:
                        body.inertia = np.asarray(body.inertia) * value[0] / body.mass
                    body.mass = float(value[0])
                elif q == "inertia":
                    body.inertia = value
                else:
                    body.ipos = value
            elif g == "geom":
                friction = np.array(mjspec.geom(el).friction)
                friction[0] = value[0]
                mjspec.geom(el).friction = friction
            elif g == "joint" and q in JOINT_USER:
                joint = mjspec.joint(el)
                user = np.zeros(len(JOINT_USER))
                user[: len(joint.userdata)] = np.asarray(joint.userdata, dtype=float)[: len(JOINT_USER)]
                user[JOINT_USER.index(q)] = value[0]
                joint.userdata = user.tolist()
            elif g == "joint":
                joint = mjspec.joint(el)
                current = getattr(joint, q)
                if np.ndim(current):  # e.g. damping is a polynomial in MuJoCo 4: set its linear term
                    current = np.array(current, dtype=float)
                    current[0] = value[0]
                    setattr(joint, q, current)
                else:
                    setattr(joint, q, float(value[0]))
            elif g == "world":
                mjspec.option.gravity = value
            elif g == "sensor":
                sensor = mjspec.sensor(el)
                if q == "bias":
                    user = np.zeros(len(SENSOR_USER))
                    user[: info.size] = value
                    sensor.userdata = user.tolist()
                else:
                    setattr(sensor, q, float(value[0]))
            else:  # actuator / motor
                act = mjspec.actuator(el)
                if q == "delay":
                    act.delay = float(value[0])
                elif q == "torque_limit":
                    act.forcerange = [-value[0], value[0]]
                else:
                    user = np.array(act.userdata, dtype=float)
                    user[ACTUATOR_USER.index(q)] = value[0]
                    act.userdata = user.tolist()
                    gain0, bias = affine_coefficients(user)
                    gainprm = np.array(act.gainprm)
                    gainprm[0] = gain0
                    biasprm = np.array(act.biasprm)
                    biasprm[:3] = bias
                    act.gainprm = gainprm
                    act.biasprm = biasprm

    # ---------------------------------------------------------------- files
    def describe(self) -> list[dict]:
        """JSON-ready description of every parameter: name, nominal, low, high, unit."""

        def plain(a: np.ndarray) -> float | list[float]:
            return float(a[0]) if a.size == 1 else [float(x) for x in a]

        return [
            {
                "name": i.name,
                "nominal": plain(i.nominal),
                "low": plain(i.low),
                "high": plain(i.high),
                "unit": i.unit,
            }
            for i in self._info.values()
        ]

    def check_bounds(
        self, values: Mapping[str, object], source: str, *, allow: bool = False, what: str = "value"
    ) -> list[str]:
        """Check values (concrete names or patterns) against the plausible bounds.

        Args:
            values: name or pattern -> value (or, with ``what="range"``, -> (low, high) pair of arrays).
            source: What the values come from (a file name), for the message.
            allow: Accept values outside the bounds (``--allow-out-of-bounds``): a warning, not an error.
            what: ``value`` or ``range`` (randomization ranges: both ends must lie inside).

        Returns:
            The names outside their bounds (empty when all are inside).

        Raises:
            ParameterError: one line naming the first offender, its bounds and the fix (unless ``allow``).
        """
        outside: list[str] = []
        first = ""
        for key, value in values.items():
            for name in [key] if key in self._info else self.resolve([key]):
                info = self._info[name]
                ends = value if what == "range" else (value, value)
                lo = _sized(ends[0], info, source)  # type: ignore[index]
                hi = _sized(ends[1], info, source)  # type: ignore[index]
                tol = 1e-9 * np.maximum(np.abs(info.high - info.low), 1e-300)
                if np.all(lo >= info.low - tol) and np.all(hi <= info.high + tol):
                    continue
                outside.append(name)
                if not first:
                    shown = _fmt(lo) if what == "value" else f"[{_fmt(lo)} .. {_fmt(hi)}]"
                    first = (
                        f"{name} {what} {shown} {info.unit} is outside its plausible bounds "
                        f"[{_fmt(info.low)} .. {_fmt(info.high)}]"
                    )
        if outside:
            more = and_more(len(outside) - 1)
            if not allow:
                raise ParameterError(
                    f"{source}: {first} of robot '{self.spec.name}'{more}; "
                    "fix it, or pass --allow-out-of-bounds"
                )
            logger.warning("%s: %s%s (allowed by --allow-out-of-bounds)", source, first, more)
        return outside


def _sized(value: object, info: ParamInfo, source: str) -> np.ndarray:
    """``value`` as an array of the parameter's size (one number stands for every component).

    Raises:
        ParameterError: another number of components (a list for a scalar parameter...), or a
            value that is not finite.
    """
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1 or arr.size not in (1, info.size):
        raise ParameterError(
            f"{source}: {info.name} has {info.size} component{'s' if info.size > 1 else ''}, "
            f"but the value {arr.tolist()} has {arr.size if arr.ndim == 1 else f'shape {arr.shape}'}"
        )
    if not np.all(np.isfinite(arr)):  # --allow-out-of-bounds lets a far value through, never a NaN
        raise ParameterError(f"{source}: {info.name}: {arr.tolist()} is not a finite number")
    return np.broadcast_to(arr, (info.size,))


def _fmt(a: np.ndarray) -> str:
    a = np.atleast_1d(np.asarray(a, dtype=float))
    return f"{a[0]:.4g}" if a.size == 1 else "[" + ", ".join(f"{x:.4g}" for x in a) + "]"


def _replaced_by_networks(spec: RobotSpec, name: str) -> bool:
    """Whether a parameter name is a drive constant (kp, kd, motor constants) of a robot with
    actuator networks, which do not have them as parameters."""
    return any(a.net is not None for a in spec.actuators) and split_name(name)[2] in (
        "kp",
        "kd",
        "resistance",
        "kt",
        "ke",
    )


def needs_set_const(name: str) -> bool:
    """Whether writing parameter ``name`` needs ``set_const`` (``mj_setConst``) afterwards: masses,
    centres of mass, inertias and armatures, whose derived quantities MuJoCo precomputes.
    :meth:`Parameters.set` runs it itself after such a write.

    Raises:
        ParameterError: not a parameter name.
    """
    group, _, quantity = split_name(name)
    return Parameters._field(group, quantity)[0] in _SETCONST_FIELDS


def is_delay(name: str) -> bool:
    """Whether a parameter is a delay (identified on a step grid rather than continuously)."""
    return name.endswith(".delay")


def delay_capacity(model: mujoco.MjModel, info: ParamInfo) -> float:
    """Longest delay [s] the model's history buffer of an actuator or sensor (``info``) holds:
    its samples less the two an interpolated read needs, in physics steps."""
    field = "actuator_history" if info.group == "actuator" else "sensor_history"
    return float((getattr(model, field)[info.index, 0] - 2) * model.opt.timestep)
