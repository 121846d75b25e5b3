"""The twin file: a twin's hidden parameter values and unmodeled effects (:class:`TwinConfig`,
:class:`TwinEffects`), read from YAML (``params:`` and ``effects:``) with every value checked.

:class:`~sim2real.real.twin.TwinRobot` (which re-exports both) is what plays them; the effects are
described there.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import yaml

from sim2real.errors import ParameterError, Sim2RealError
from sim2real.params import Parameters
from sim2real.robots import DATA_DIR
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec
from sim2real.text import read_text

__all__ = ["INTEGRATORS", "TwinConfig", "TwinEffects"]


@dataclass(frozen=True)
class TwinEffects:
    """Unmodeled effects of the twin (what training never saw)."""

    substep_factor: int = 4
    """Fine physics steps per training physics step."""
    integrator: str = "RK4"
    """MuJoCo integrator of the twin (training uses implicitfast)."""
    latency_jitter: float = 0.0005
    """Half-width of the uniform jitter added to the actuator delay [s]."""
    backlash: float = 0.002
    """Total play of each transmission [rad] (slide joints: times ``slide_travel``, in m)."""
    no_load_speed: float = math.inf
    """Joint speed at which a motor's torque falls to zero [rad/s] (torque-speed saturation; slide
    joints: times ``slide_travel``, in m/s)."""
    encoder_resolution: float | None = None
    """Encoder quantization step [rad] (slide joints: times ``slide_travel``, in m); None: the spec's
    ``sensors.encoder.resolution``, as training reads it."""
    position_noise: float = 0.0005
    """Encoder position noise std [rad] (slide joints: times ``slide_travel``, in m)."""
    velocity_noise: float = 0.01
    """Velocity noise std [rad/s] (slide joints: times ``slide_travel``, in m/s)."""
    position_bias: float = 0.0
    """Constant encoder bias [rad] (slide joints: times ``slide_travel``, in m)."""
    slide_travel: float = 0.01
    """Travel of a slide joint per radian of its drive [m/rad] (a pinion's radius, a lead screw's lead
    over 2 pi): the angular effects above act on slide joints times this (0.002 rad of backlash is
    0.02 mm of play; the angle itself as metres would be 2 mm, half a gripper finger's stroke)."""
    gyro_noise: float = 0.005
    """Gyro noise std [rad/s]."""
    drop_probability: float = 0.002
    """Probability that a reading is dropped."""
    seed: int = 0
    """Seed of every random effect."""
    stop_delay: float = 0.0
    """Time the robot takes to enter safe mode after a safe command or ``stop()`` [s] (a slow
    e-stop path; it keeps applying its last command meanwhile)."""
    flip_sign: tuple[str, ...] = ()
    """Joints whose motor turns the wrong way (a wiring or configuration error): their actuator
    torque is negated."""
    explicit_actuators: bool = True
    """Compute actuator torques here every fine step (explicit PD); False: the model's own actuators
    take the commands (implicit PD damping, as in training; no backlash, no torque-speed curve)."""

    @classmethod
    def none(cls, integrator: str = "implicitfast") -> TwinEffects:
        """No unmodeled effect at all: the training simulator itself (sim2sim's nominal run)."""
        return cls(
            substep_factor=1,
            integrator=integrator,
            latency_jitter=0.0,
            backlash=0.0,
            position_noise=0.0,
            velocity_noise=0.0,
            gyro_noise=0.0,
            drop_probability=0.0,
            explicit_actuators=False,
        )


@dataclass(frozen=True)
class TwinConfig:
    """A twin: hidden parameter values + unmodeled effects (YAML: ``params:`` and ``effects:``)."""

    params: dict[str, np.ndarray] = field(default_factory=dict)
    """Hidden true parameter values by name (absolute SI)."""
    effects: TwinEffects = field(default_factory=TwinEffects)
    """Unmodeled effects."""

    @staticmethod
    def load(
        path: str | Path, spec: RobotSpec | None = None, *, allow_out_of_bounds: bool = False
    ) -> TwinConfig:
        """Read a twin file.  A plain parameter file (name -> value) is accepted as well.

        With ``spec``, the parameter names must be the robot's and their values within its plausible
        bounds (unless ``allow_out_of_bounds``).

        Raises:
            Sim2RealError: missing file, not YAML, unknown keys, malformed or out-of-bounds values.
        """
        path = Path(path)
        if not path.is_file():
            robot = _robot_argument(spec) if spec is not None else "ROBOT"
            raise Sim2RealError(
                f"twin file not found: {path} (make one with `sim2real twin init --robot {robot} --out {path}`)"
            )
        try:
            raw = yaml.safe_load(read_text(path, Sim2RealError, "twin file")) or {}
        except yaml.YAMLError:
            raise Sim2RealError(f"{path}: not valid YAML") from None
        if not isinstance(raw, dict):
            raise Sim2RealError(f"{path}: a twin file is a map with 'params' and 'effects'")
        if "params" not in raw and "effects" not in raw:
            raw = {"params": raw}
        unknown = set(raw) - {"params", "effects"}
        if unknown:
            raise Sim2RealError(
                f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected params, effects"
            )
        if not isinstance(raw.get("params") or {}, dict):
            raise Sim2RealError(f"{path}: 'params' must be a map of parameter name to value")
        params = {}
        for name, value in (raw.get("params") or {}).items():
            try:
                params[str(name)] = np.atleast_1d(np.asarray(value, dtype=float))
            except (TypeError, ValueError):
                raise Sim2RealError(f"{path}: params.{name}: {value!r} is not a number or list") from None
        effects_raw = raw.get("effects") or {}
        if not isinstance(effects_raw, dict):
            raise Sim2RealError(f"{path}: 'effects' must be a map of effect name to value")
        allowed = set(TwinEffects.__dataclass_fields__)
        bad = set(effects_raw) - allowed
        if bad:
            hints = []
            for name in sorted(bad):
                close = difflib.get_close_matches(name, allowed, n=1)
                hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
            raise Sim2RealError(
                f"{path}: unknown effect(s) {', '.join(hints)}; the effects are the fields of TwinEffects"
            )
        config = TwinConfig(params=params, effects=_effects(effects_raw, path))
        if spec is not None:
            unknown = set(config.effects.flip_sign) - set(spec.actuated_joints)
            if unknown:
                raise Sim2RealError(
                    f"{path}: effects.flip_sign: {', '.join(sorted(unknown))} are not actuated joints of "
                    f"robot '{spec.name}' ({', '.join(spec.actuated_joints)})"
                )
            try:
                known = Parameters(spec, build_model(spec))
                known.check_bounds(config.params, str(path), allow=allow_out_of_bounds)
            except ParameterError as exc:
                text = str(exc)
                if "matches no parameter" in text:  # most often a twin file made for another robot
                    text += f" (a twin of another robot? `sim2real twin init --robot {_robot_argument(spec)}` makes this one's)"
                raise Sim2RealError(text if text.startswith(str(path)) else f"{path}: {text}") from None
        return config

    def save(self, path: str | Path) -> None:
        """Write the twin file."""
        plain = {k: (float(v[0]) if v.size == 1 else [float(x) for x in v]) for k, v in self.params.items()}
        effects = {k: getattr(self.effects, k) for k in TwinEffects.__dataclass_fields__}
        effects = {
            k: (v if not (isinstance(v, float) and math.isinf(v)) else 1e9) for k, v in effects.items()
        }
        effects["flip_sign"] = list(self.effects.flip_sign)
        Path(path).write_text(yaml.safe_dump({"params": plain, "effects": effects}, sort_keys=False))


def _robot_argument(spec: RobotSpec) -> str:
    """What ``--robot`` takes for this spec: an embedded robot's name, else its YAML path."""
    return spec.name if spec.path.parent == DATA_DIR else str(spec.path)


def _effects(raw: dict, path: Path) -> TwinEffects:
    """Effects from a twin file's map, each value checked for type and range."""
    values = {}
    for name, value in raw.items():
        where = f"{path}: effects.{name}"
        default = getattr(TwinEffects, name)
        if name == "flip_sign":  # a YAML list of joint names
            flip = value or ()
            if not isinstance(flip, list | tuple) or not all(isinstance(j, str) for j in flip):
                raise Sim2RealError(f"{where} must be a list of joint names, got {value!r}")
            value = tuple(flip)
        elif name == "explicit_actuators":
            if not isinstance(value, bool):
                raise Sim2RealError(f"{where} must be true or false, got {value!r}")
        elif name == "integrator":
            if value not in INTEGRATORS:
                raise Sim2RealError(f"{where} must be one of {', '.join(INTEGRATORS)}, got {value!r}")
        elif name in ("substep_factor", "seed"):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (1 if name == "substep_factor" else 0)
            ):
                raise Sim2RealError(
                    f"{where} must be a whole number >= {1 if name == 'substep_factor' else 0}, got {value!r}"
                )
        elif value is not None or default is not None:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or math.isnan(value)
                or value < 0
            ):
                raise Sim2RealError(f"{where} must be a number >= 0, got {value!r}")
            if math.isinf(value) and name != "no_load_speed":  # inf: no saturation; elsewhere no number
                raise Sim2RealError(f"{where} must be a finite number >= 0, got {value!r}")
            if name == "drop_probability" and value >= 1:
                raise Sim2RealError(f"{where} must be below 1, got {value!r}")
            value = float(value)
        values[name] = value
    return TwinEffects(**values)


INTEGRATORS = {
    "Euler": mujoco.mjtIntegrator.mjINT_EULER,
    "RK4": mujoco.mjtIntegrator.mjINT_RK4,
    "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
}
