"""Actuator networks at run time: a learned model of a drive's torque, evaluated in onnxruntime.

An actuator network (made by ``sim2real actuator fit``, :mod:`sim2real.sysid.actuator_fit`) maps
the recent history of a drive's input to the torque it produces, as Hwangbo et al. (2019) did for
ANYmal: for a position-controlled drive the position error ``target + offset - q`` [rad] and the
joint velocity [rad/s] at the newest ``history`` samples spaced ``dt`` apart (the control rate of
the logs it was fitted on); for a torque or voltage drive its command instead of the error.

**The file.**  One ONNX graph holds one network per *group* of joints that share a drive.  An MLP
group ``g`` has input ``x_g`` (batch, n_inputs * history) float32, channel-major and newest first
(``e_t, e_t-1, ..., v_t, v_t-1, ...``) and output ``tau_g`` (batch, 1) [N m]; a GRU group has input
``x_g`` (the same rows) and state ``h_g`` (batch, hidden), and outputs ``tau_g`` and ``h_out_g``.
Input normalization is inside the graph.  Its metadata (JSON values, :data:`METADATA_KEYS`) says
the kind, drive, inputs, history, dt, groups and their joints, the spec hash of the logs' robot,
and the baselines it was compared with.  Only onnxruntime and numpy run it: no torch on the robot
side, in the twin, or in training's simulator.

**In a simulator** (:class:`NetDrives`), the network is evaluated for every simulation and every
joint of a group in one batched call per physics step, from a per-simulation ring buffer of the
inputs at the physics rate (the history reads back ``dt`` apart, so a 50 Hz network sees 20 ms
spacing at any physics step); a GRU's state advances once per ``dt`` (its training rate), and in
between the output is that of the newest input on the last committed state.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from sim2real.errors import SpecError
from sim2real.robots.files import file_digest
from sim2real.robots.spec import RobotSpec, content_hash

log = logging.getLogger(__name__)

__all__ = [
    "DRIVE_INPUTS",
    "METADATA_KEYS",
    "ActuatorNet",
    "NetDrives",
    "NetMetadata",
    "load_net",
    "with_actuator_net",
]

FORMAT = "sim2real-actuator-net/1"
"""Value of the ``format`` metadata key."""

DRIVE_INPUTS: dict[str, tuple[str, str]] = {
    "pd": ("position_error", "velocity"),
    "torque": ("command", "velocity"),
    "dc_motor": ("command", "velocity"),
}
"""Inputs of a network per drive model: ``position_error`` = target + offset - q [rad], ``command``
(N m or V), ``velocity`` [rad/s]."""

METADATA_KEYS: tuple[str, ...] = (
    "format",
    "kind",
    "drive",
    "inputs",
    "history",
    "dt",
    "hidden",
    "groups",
    "joints",
    "spec_hash",
    "robot",
    "torque_source",
    "baselines",
    "validation",
    "input_range",
)
"""Keys of an actuator network's ONNX metadata (values are JSON)."""

COVERAGE_MARGIN = 0.1
"""A simulation drives a network outside its data when an input leaves the range of its fit's
samples by more than this fraction of that range (:meth:`NetDrives.coverage`)."""


@dataclass(frozen=True)
class NetMetadata:
    """What an actuator network file says about itself."""

    kind: str
    """``mlp`` (history window) or ``gru`` (recurrent state)."""
    drive: str
    """Model of the drive it learned: ``pd``, ``torque`` or ``dc_motor`` (what its command means)."""
    inputs: tuple[str, ...]
    """Input channels, in order (:data:`DRIVE_INPUTS`)."""
    history: int
    """Samples of each input the network sees at once (the GRU: at each step of its state)."""
    dt: float
    """Spacing of the history samples, and the GRU's state step [s]."""
    groups: Mapping[str, tuple[str, ...]]
    """Group name -> its joints (joints of a group share one network)."""
    spec_hash: str
    """Hash of the spec of the robot whose logs it was fitted on."""
    hidden: int = 0
    """GRU state size (0 for an MLP)."""
    robot: str = ""
    """Name of that robot."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """The other keys (``baselines``, ``validation``, ``torque_source``, ``input_range``: group ->
    input channel -> [low, high] over the fit's samples), as read."""

    @property
    def joints(self) -> tuple[str, ...]:
        """Every joint it models, group by group."""
        return tuple(j for joints in self.groups.values() for j in joints)

    def group_of(self, joint: str) -> str:
        """The group a joint belongs to."""
        for name, joints in self.groups.items():
            if joint in joints:
                return name
        raise SpecError(
            f"the actuator network has no group for joint '{joint}' (joints: {', '.join(self.joints)})"
        )

    def as_props(self) -> dict[str, str]:
        """ONNX ``metadata_props`` (JSON values)."""
        out = {
            "format": FORMAT,
            "kind": self.kind,
            "drive": self.drive,
            "inputs": list(self.inputs),
            "history": self.history,
            "dt": self.dt,
            "hidden": self.hidden,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "joints": list(self.joints),
            "spec_hash": self.spec_hash,
            "robot": self.robot,
            **dict(self.extra),
        }
        return {k: json.dumps(v) for k, v in out.items()}

    @staticmethod
    def from_props(props: Mapping[str, str], source: str) -> NetMetadata:
        """Read and check ``metadata_props``.

        Raises:
            SpecError: not an actuator network of this format, or inconsistent.
        """
        try:
            raw = {k: json.loads(v) for k, v in props.items()}
        except json.JSONDecodeError:
            raise SpecError(f"{source}: metadata is not JSON") from None
        if raw.get("format") != FORMAT:
            raise SpecError(
                f"{source}: not a sim2real actuator network (format {raw.get('format')!r}, expected {FORMAT})"
            )
        missing = [
            k for k in ("kind", "drive", "inputs", "history", "dt", "groups", "spec_hash") if k not in raw
        ]
        if missing:
            raise SpecError(f"{source}: metadata lacks {', '.join(missing)}")
        kind, drive = raw["kind"], raw["drive"]
        if kind not in ("mlp", "gru") or drive not in DRIVE_INPUTS:
            raise SpecError(f"{source}: unknown kind {kind!r} or drive {drive!r}")
        history, dt = int(raw["history"]), float(raw["dt"])
        if history < 1 or not dt > 0:
            raise SpecError(f"{source}: history {history} and dt {dt} must be positive")
        groups = {str(k): tuple(str(j) for j in v) for k, v in raw["groups"].items()}
        if not groups or any(not v for v in groups.values()):
            raise SpecError(f"{source}: no groups of joints")
        extra = {
            k: v for k, v in raw.items() if k in ("baselines", "validation", "torque_source", "input_range")
        }
        return NetMetadata(
            kind=kind,
            drive=drive,
            inputs=tuple(raw["inputs"]),
            history=history,
            dt=dt,
            groups=groups,
            spec_hash=str(raw["spec_hash"]),
            hidden=int(raw.get("hidden", 0)),
            robot=str(raw.get("robot", "")),
            extra=extra,
        )


def _options(threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


class ActuatorNet:
    """An actuator network file, loaded into an onnxruntime session.

    Args:
        path: The ``.onnx`` file.
        threads: onnxruntime threads (1: the simulator's threads keep the other cores).

    Raises:
        SpecError: missing file, not a sim2real actuator network, or a graph onnxruntime rejects.
    """

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SpecError(f"actuator network not found: {self.path}")
        try:
            self.session = ort.InferenceSession(
                str(self.path), _options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own exception types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SpecError(f"{self.path.name}: onnxruntime cannot load it ({first[:200]})") from None
        self.meta = NetMetadata.from_props(self.session.get_modelmeta().custom_metadata_map, self.path.name)
        names = {i.name for i in self.session.get_inputs()}
        for group in self.meta.groups:
            needed = {f"x_{group}"} | ({f"h_{group}"} if self.meta.kind == "gru" else set())
            if not needed <= names:
                raise SpecError(f"{self.path.name}: the graph lacks input(s) {sorted(needed - names)}")
        self.outputs = [o.name for o in self.session.get_outputs()]

    @property
    def width(self) -> int:
        """Input columns of one sample (inputs x history)."""
        n = len(self.meta.inputs)
        return n * self.meta.history

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call for every group: feeds ``x_<g>`` (and ``h_<g>``) -> every output by name (a group
        not fed gets one row of zeros; its outputs are then meaningless)."""
        full = {k: np.ascontiguousarray(v, np.float32) for k, v in feeds.items()}
        for g in self.meta.groups:
            full.setdefault(f"x_{g}", np.zeros((1, self.width), np.float32))
            if self.meta.kind == "gru":
                full.setdefault(f"h_{g}", np.zeros((full[f"x_{g}"].shape[0], self.meta.hidden), np.float32))
        values = self.session.run(self.outputs, full)
        return dict(zip(self.outputs, values, strict=True))

    def predict(self, x: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Torques of MLP samples (or of GRU sequences, state carried): group -> inputs (n, width)
        for an MLP, (n, T, width) for a GRU (n sequences of T steps) -> torques (n,) or (n, T) [N m]."""
        if self.meta.kind == "mlp":
            out = self.run({f"x_{g}": v for g, v in x.items()})
            return {g: out[f"tau_{g}"][:, 0].astype(float) for g in x}
        result = {}
        for g, seq in x.items():
            n, T = seq.shape[:2]
            h = np.zeros((n, self.meta.hidden), np.float32)
            tau = np.zeros((n, T))
            for k in range(T):
                out = self.run({f"x_{g}": seq[:, k], f"h_{g}": h})
                tau[:, k] = out[f"tau_{g}"][:, 0]
                h = out[f"h_out_{g}"]
            result[g] = tau
        return result


_CACHE: dict[tuple[Path, float], ActuatorNet] = {}


def load_net(path: str | Path) -> ActuatorNet:
    """An :class:`ActuatorNet`, shared per file (and modification time) within a process."""
    path = Path(path).resolve()
    key = (path, path.stat().st_mtime if path.is_file() else 0.0)
    if key not in _CACHE:
        _CACHE[key] = ActuatorNet(path)
    return _CACHE[key]


class NetDrives:
    """The network-driven actuators of a robot, for ``n`` simulations stepped at ``physics_dt``.

    Args:
        net: The network.
        joints: The actuated joints it drives here (each in one of its groups).
        drives: The spec's drive model of each of them (must be the network's).
        physics_dt: Physics step of the simulations [s].
        n: Number of simulations.

    Raises:
        SpecError: a joint the network does not model, another drive, or a history spacing that
            is not a whole number of physics steps.
    """

    def __init__(
        self, net: ActuatorNet, joints: Sequence[str], drives: Sequence[str], physics_dt: float, n: int
    ) -> None:
        meta = net.meta
        for joint, drive in zip(joints, drives, strict=True):
            meta.group_of(joint)
            if drive != meta.drive:
                raise SpecError(
                    f"{net.path.name} models {meta.drive} drives, but joint '{joint}' has a {drive} drive"
                )
        ratio = meta.dt / physics_dt
        self.spacing = max(1, round(ratio))
        """Physics steps between history samples."""
        if abs(ratio - self.spacing) > 1e-6 * max(ratio, 1.0):
            raise SpecError(
                f"{net.path.name}: its history step {meta.dt:g} s is not a whole number of physics steps "
                f"({physics_dt:g} s)"
            )
        self.net = net
        self.joints = tuple(joints)
        self.n = n
        self.gru = meta.kind == "gru"
        depth = (meta.history - 1) * self.spacing + 1
        self._buffer = np.zeros((n, depth, len(self.joints), len(meta.inputs)), np.float32)
        self._slot = np.zeros(n, dtype=np.int64)
        self._phase = np.zeros(n, dtype=np.int64)
        self._back = np.arange(meta.history) * self.spacing  # steps back of each history sample
        groups = {}
        for g in meta.groups:
            cols = [i for i, j in enumerate(self.joints) if meta.group_of(j) == g]
            if cols:
                groups[g] = np.array(cols, dtype=np.int64)
        self.groups = groups
        """Group -> columns of :attr:`joints` in it (groups with joints here only)."""
        self._state = (
            {g: np.zeros((n, cols.size, meta.hidden), np.float32) for g, cols in groups.items()}
            if self.gru
            else {}
        )
        fitted = meta.extra.get("input_range") or {}
        self.fitted: np.ndarray | None = None
        """Range of each joint's inputs in the fit's samples, shape (joints, inputs, 2) (None: the
        file does not say)."""
        if all(meta.group_of(j) in fitted for j in self.joints):
            self.fitted = np.array(
                [[fitted[meta.group_of(j)][c] for c in meta.inputs] for j in self.joints], dtype=float
            )
        shape = (len(self.joints), len(meta.inputs))
        self.seen = np.stack([np.full(shape, np.inf), np.full(shape, -np.inf)], axis=-1)
        """Smallest and largest input of each joint the simulations gave, shape (joints, inputs, 2)."""

    def reset(self, ids: np.ndarray, sample: np.ndarray) -> None:
        """Restart simulations ``ids`` as if they had rested in ``sample`` (n_ids, joints, inputs)."""
        ids = np.asarray(ids, dtype=np.int64)
        self._buffer[ids] = np.asarray(sample, np.float32)[:, None]
        self._slot[ids] = 0
        self._phase[ids] = 0
        for state in self._state.values():
            state[ids] = 0.0

    def torque(self, ids: np.ndarray, sample: np.ndarray) -> np.ndarray:
        """The torque of every joint of simulations ``ids`` at the present step [N m], and advance.

        Args:
            ids: Simulations, shape (k,).
            sample: Their inputs now, shape (k, joints, inputs) (:data:`DRIVE_INPUTS` order).

        Returns:
            Shape (k, joints) [N m], before strength and torque limit (MuJoCo applies those).
        """
        ids = np.asarray(ids, dtype=np.int64)
        depth = self._buffer.shape[1]
        slot = self._slot[ids]
        self._buffer[ids, slot] = sample
        np.minimum(self.seen[..., 0], sample.min(axis=0), out=self.seen[..., 0])
        np.maximum(self.seen[..., 1], sample.max(axis=0), out=self.seen[..., 1])
        k, m = ids.size, len(self.joints)
        rows = (slot[:, None] - self._back[None, :]) % depth  # (k, history), newest first
        window = self._buffer[ids[:, None], rows]  # (k, history, joints, inputs)
        feeds = {}
        for g, cols in self.groups.items():
            x = window[:, :, cols].transpose(0, 2, 3, 1)  # (k, joints, inputs, history)
            feeds[f"x_{g}"] = x.reshape(k * cols.size, -1)
            if self.gru:
                feeds[f"h_{g}"] = self._state[g][ids].reshape(k * cols.size, -1)
        result = self.net.run(feeds)
        out = np.zeros((k, m))
        at = self._phase[ids] == 0  # a sample instant: the GRU's state advances
        for g, cols in self.groups.items():
            out[:, cols] = result[f"tau_{g}"].reshape(k, cols.size)
            if self.gru and at.any():
                self._state[g][ids[at]] = result[f"h_out_{g}"].reshape(k, cols.size, -1)[at]
        self._slot[ids] = (slot + 1) % depth
        self._phase[ids] = (self._phase[ids] + 1) % self.spacing
        return out

    def coverage(self) -> list[str]:
        """One line per joint input the simulations drove outside the fit's samples (by more than
        :data:`COVERAGE_MARGIN` of their range): there the network's torque is an extrapolation."""
        if self.fitted is None:
            return []
        out = []
        for i, joint in enumerate(self.joints):
            for c, channel in enumerate(self.net.meta.inputs):
                lo, hi = self.fitted[i, c]
                low, high = self.seen[i, c]
                margin = COVERAGE_MARGIN * (hi - lo)
                if low < lo - margin or high > hi + margin:
                    out.append(
                        f"{self.net.path.name}: joint '{joint}' {channel} reached [{low:.3g}, {high:.3g}] in simulation, "
                        f"its logs covered [{lo:.3g}, {hi:.3g}]: its torque there is an extrapolation "
                        "(record logs that reach it)"
                    )
        return out


def with_actuator_net(spec: RobotSpec, path: str | Path, joints: Sequence[str] | None = None) -> RobotSpec:
    """The robot with some actuators simulated by an actuator network (as ``model: net`` would).

    Args:
        spec: The robot.
        path: The network file.
        joints: Actuated joints to drive with it (default: every actuated joint it models).

    Returns:
        The spec with ``net`` set on those actuators; its files and hash include the network.

    Raises:
        SpecError: the network models none of the joints, or a joint it does not model.
    """
    net = load_net(path)
    chosen = [j for j in spec.actuated_joints if j in net.meta.joints] if joints is None else list(joints)
    if not chosen:
        raise SpecError(
            f"{net.path.name} models none of {spec.name}'s actuated joints ({', '.join(net.meta.joints)})"
        )
    for joint in chosen:
        net.meta.group_of(joint)
        if spec.actuator(joint).model != net.meta.drive:
            raise SpecError(
                f"{net.path.name} models {net.meta.drive} drives; '{joint}' has a {spec.actuator(joint).model} drive"
            )
    actuators = tuple(
        dataclasses.replace(a, net=net.path) if a.joint in chosen else a for a in spec.actuators
    )
    files = dict(spec.files)
    files[os.path.relpath(net.path, spec.path.parent)] = file_digest(net.path)
    note = f"actuators of {', '.join(chosen)} simulated by the actuator network {net.path.name}"
    return dataclasses.replace(
        spec, actuators=actuators, files=files, hash=content_hash(files), overrides=(*spec.overrides, note)
    )
