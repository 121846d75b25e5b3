"""Policy metadata: what a deployed policy file carries besides its graph (numpy only, no torch).

An exported policy is one ONNX file.  Its ``metadata_props`` hold one JSON value per key:

=====================  =====================================================================
key                    value
=====================  =====================================================================
``format``             ``"sim2real-policy/1"`` (what makes a file a sim2real policy)
``sim2real_version``   version of the exporting sim2real
``robot``              robot name
``spec_hash``          content hash of the RobotSpec the policy was trained for
``joint_names``        joint names in policy order
``actuated_joints``    joints with an actuator (= action order)
``default_pose``       default joint positions [rad], per joint
``observation``        ordered terms ``[{"name", "size", "scale", "history", "clip", "params"}]``
                       (size: one frame; scale: a number or one per value; history: frames, oldest
                       first; clip: [low, high] before scaling or null; params: e.g. a gait
                       phase clock's period); older files have name, size and scale only
``frame_stack``        whole frames of the layout stacked, oldest first, zeros after a reset; absent: 1
``n_obs`` / ``n_act``  observation and action lengths (n_obs: frame_stack x the layout's width)
``action_scale``       per actuator: command = scale * a (+ default pose for pd actuators)
``action_offset``      per actuator: command at a = 0 (the spec's ``action.offset``; absent in older
                       files: the default pose for pd actuators, else 0)
``action_filter``      alpha of ``a_f = alpha a + (1 - alpha) a_f_prev``
``action_clip``        per actuator ``[low, high]`` of the mapped command (null entries: unbounded);
                       absent or empty: none
``action_limit``       largest |a| (actions beyond are clipped); null: none; absent: 1 (tanh policies)
``recurrent``          the graph's recurrent state: ``[{"input", "output", "shape"}]``, each input
                       fed with the previous step's output, zeros after a reset; absent: stateless
``motor_order``        the robot's motor order (actuated joints by motor slot, ``-`` an empty one); absent: policy order
``action_hold``        actuated joints the policy does not drive (the spec's ``action.hold``): their
                       command is their offset, ``last_action`` leaves them out; absent: none
``imported``           where an imported policy came from (framework, files and their sha256, the
                       assumptions made); absent for sim2real's own policies
``actuators``          per actuator: model (pd/torque/dc_motor), gains, motor constants, limits
``command_limits``     per actuator ``[low, high]`` in command units (rad, N m or V); null = none
``control_dt``         control period [s]
``task``               training task name
``spec_files``         sha256 of every file the spec hash covers (names the file that changed)
``model_overrides``    every change sim2real made to the MJCF model (timestep, actuators, ...)
``randomization``      summary of the training randomization (free-form JSON)
``network``            architecture of the exported network (hidden widths, normalizer eps/clip)
``training``           other facts about the training run (free-form JSON); its ``calibration``
                       (``train --calib``): ``{path, spec_hash, created, values, ...}``, the
                       calibrated values the policy was trained on (the collision observer's model)
``export_check``       parity of onnxruntime against PyTorch at export (max abs diff, counts)
``content_sha256``     sha256 of the graph, opsets and every other metadata entry
=====================  =====================================================================

The checksum makes a damaged file (flipped bytes in the weights, a cut-off download) an error at
load time instead of a silently different policy.  The file is read with a minimal protobuf wire
reader so that neither ``onnx`` nor ``torch`` is needed on the robot.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim2real.errors import PolicyError, SpecMismatchError
from sim2real.robots.spec import NO_JOINT, ActuatorSpec, ObservationTerm, RobotSpec
from sim2real.text import and_more

logger = logging.getLogger(__name__)

FORMAT = "sim2real-policy/1"
"""Value of the ``format`` key of every policy file this version writes and reads."""
INPUT_NAME = "obs"
"""Graph input: observations, shape (batch, n_obs), float32."""
OUTPUT_NAME = "action"
"""Graph output: actions in [-1, 1], shape (batch, n_act), float32."""
CHECKSUM_KEY = "content_sha256"

# ModelProto field numbers (onnx.proto3)
_IR_VERSION = 1
_GRAPH = 7
_METADATA_PROPS = 14


# ----------------------------------------------------------------------------- wire format
class _MalformedError(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise _MalformedError("ends inside a field (truncated)")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _MalformedError("malformed varint")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """Top-level protobuf fields: (field number, start offset, end offset, payload of LEN fields)."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _MalformedError("field number 0")
        payload = b""
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            payload = buf[pos : pos + length]
            pos += length
        else:
            raise _MalformedError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise _MalformedError("ends inside a field (truncated)")
        yield number, start, pos, payload


def _entry(payload: bytes) -> tuple[str, str]:
    key = value = ""
    for number, _, _, data in _fields(payload):
        if number == 1:
            key = data.decode("utf-8")
        elif number == 2:
            value = data.decode("utf-8")
    return key, value


@dataclass(frozen=True)
class ModelFile:
    """The parts of a serialized ONNX model that sim2real reads without onnx."""

    props: dict[str, str]
    """``metadata_props`` as stored (JSON text values)."""
    digest: str
    """sha256 over every top-level field but the metadata, then the metadata except the checksum."""


def parse_model_bytes(data: bytes, source: str = "policy") -> ModelFile:
    """Split a serialized ONNX ModelProto into metadata and content digest.

    Raises:
        PolicyError: the bytes are not an ONNX model (or are cut off).
    """
    content = hashlib.sha256()
    props: dict[str, str] = {}
    seen: set[int] = set()
    try:
        for number, start, end, payload in _fields(data):
            seen.add(number)
            if number == _METADATA_PROPS:
                key, value = _entry(payload)
                props[key] = value
            else:
                content.update(data[start:end])
    except (_MalformedError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{source}: not a readable ONNX file ({exc})") from None
    if not data or _IR_VERSION not in seen or _GRAPH not in seen:
        raise PolicyError(f"{source}: not an ONNX model (no IR version or no graph)")
    for key in sorted(props):
        if key != CHECKSUM_KEY:
            content.update(b"\0" + key.encode() + b"\0" + props[key].encode())
    return ModelFile(props=props, digest=content.hexdigest())


# ------------------------------------------------------------------------------ metadata
def _json_safe(value: Any) -> Any:
    """Plain JSON values from numpy arrays, tuples, dataclasses, paths (non-finite floats -> None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json_safe(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _limit(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class RecurrentState:
    """One recurrent state tensor of a policy graph (e.g. an LSTM's hidden or cell state)."""

    input: str
    """Graph input that takes the state of the previous step."""
    output: str
    """Graph output that gives the state after this step."""
    shape: tuple[int, ...]
    """Shape of the state tensor (float32), batch of one robot."""


@dataclass(frozen=True, eq=False)
class PolicyMetadata:
    """Everything a deployment needs to run a policy on its robot.  Sequences are in policy order."""

    robot: str
    """Robot name."""
    spec_hash: str
    """Content hash of the RobotSpec the policy was trained for."""
    joint_names: tuple[str, ...]
    """Joint names in the order of the observation's per-joint terms."""
    actuated_joints: tuple[str, ...]
    """Joints with an actuator, in action order."""
    default_pose: tuple[float, ...]
    """Default joint positions, per joint [rad]."""
    observation: tuple[ObservationTerm, ...]
    """Observation layout (name, size, scale), in order."""
    action_scale: tuple[float, ...]
    """Per actuator: command = scale * a (+ default pose for pd actuators)."""
    action_filter: float
    """alpha of the action low-pass ``a_f = alpha a + (1 - alpha) a_f_prev``, in (0, 1]."""
    actuators: tuple[ActuatorSpec, ...]
    """Actuator models, gains and limits, in action order."""
    control_dt: float
    """Control period [s]."""
    task: str = ""
    """Training task name."""
    randomization: Any = None
    """Summary of the training randomization (free-form JSON; None when not recorded)."""
    network: Mapping[str, Any] = field(default_factory=dict)
    """Architecture of the network (hidden widths, normalizer eps and clip, activations)."""
    training: Mapping[str, Any] = field(default_factory=dict)
    """Other facts about the training run (free-form JSON)."""
    export_check: Mapping[str, Any] = field(default_factory=dict)
    """Parity of onnxruntime against PyTorch measured at export."""
    sim2real_version: str = ""
    """Version of sim2real that exported the file."""
    spec_files: Mapping[str, str] = field(default_factory=dict)
    """File -> sha256 of every file the spec hash covers (empty in files of older versions)."""
    model_overrides: tuple[str, ...] = ()
    """Every change sim2real made to the robot's MJCF model (see ``RobotSpec.overrides``)."""
    action_offset: tuple[float, ...] = ()
    """Per actuator: command at a = 0; empty: the default pose for pd actuators, else 0."""
    action_clip: tuple[tuple[float | None, float | None], ...] = ()
    """Per actuator: (low, high) bounds of the mapped command (None: unbounded); empty: none."""
    action_limit: float | None = 1.0
    """Largest |a|; actions beyond are clipped (None: no bound)."""
    recurrent: tuple[RecurrentState, ...] = ()
    """The graph's recurrent state (empty: a stateless policy)."""
    motor_order: tuple[str, ...] = ()
    """The robot's motor order (actuated joints by motor index); empty: policy order."""
    held: tuple[str, ...] = ()
    """Actuated joints held at their action offset, not driven (``RobotSpec.held``); empty: none."""
    imported: Mapping[str, Any] = field(default_factory=dict)
    """Provenance of an imported policy (framework, files, assumptions); empty for sim2real's own."""
    frame_stack: int = 1
    """Whole frames of :attr:`observation` stacked, oldest first, zeros after a reset (``RobotSpec.frame_stack``)."""

    @property
    def calibration(self) -> Mapping[str, Any] | None:
        """The calibration the policy was trained on (``train --calib``; export keeps the run's record
        in ``training``): ``path``, ``spec_hash``, ``created``, ``values`` (parameter name -> value),
        or None for a policy trained on the nominal model (and hand-made or imported ones)."""
        record = self.training.get("calibration") if isinstance(self.training, Mapping) else None
        return record if record else None

    @property
    def n_obs(self) -> int:
        """Observation length (:attr:`frame_stack` frames of the layout)."""
        return self.frame_stack * sum(t.width for t in self.observation)

    @property
    def n_act(self) -> int:
        """Number of actions (= actuators)."""
        return len(self.actuated_joints)

    @property
    def action_index(self) -> np.ndarray:
        """Indices of the driven actions (all but :attr:`held`): the ``last_action`` term's entries."""
        return np.array([i for i, j in enumerate(self.actuated_joints) if j not in self.held], dtype=int)

    @property
    def command_low(self) -> np.ndarray:
        """Lowest command per actuator in its command units, shape (n_act,); -inf when unbounded."""
        return np.array([a.command_low for a in self.actuators])

    @property
    def command_high(self) -> np.ndarray:
        """Highest command per actuator, shape (n_act,); inf when unbounded."""
        return np.array([a.command_high for a in self.actuators])

    @property
    def command_clip(self) -> tuple[np.ndarray, np.ndarray]:
        """Per actuator: the ``action_clip`` bounds as arrays (n_act,) each, -inf / inf where unbounded."""
        if not self.action_clip:
            return np.full(self.n_act, -np.inf), np.full(self.n_act, np.inf)
        low = np.array([-np.inf if lo is None else lo for lo, _ in self.action_clip], dtype=float)
        high = np.array([np.inf if hi is None else hi for _, hi in self.action_clip], dtype=float)
        return low, high

    @property
    def command_offset(self) -> np.ndarray:
        """Per actuator: the command at a = 0, shape (n_act,): ``action_offset``, or (files without
        it) the default pose of its joint for pd actuators, else 0."""
        if self.action_offset:
            return np.array(self.action_offset, dtype=float)
        pose = dict(zip(self.joint_names, self.default_pose, strict=True))
        return np.array([pose[a.joint] if a.model == "pd" else 0.0 for a in self.actuators])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spec(
        cls,
        spec: RobotSpec,
        *,
        action_scale: Sequence[float],
        action_filter: float,
        task: str = "",
        randomization: Any = None,
        network: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
    ) -> PolicyMetadata:
        """Metadata of a policy trained for ``spec`` with a task's action mapping."""
        from sim2real import __version__

        meta = cls(
            robot=spec.name,
            spec_hash=spec.hash,
            joint_names=tuple(spec.joints),
            actuated_joints=tuple(spec.actuated_joints),
            default_pose=tuple(float(x) for x in spec.default_pose),
            observation=tuple(spec.observation),
            action_scale=tuple(float(x) for x in action_scale),
            action_filter=float(action_filter),
            actuators=tuple(spec.actuators),
            control_dt=float(spec.control_dt),
            task=task,
            randomization=_json_safe(randomization),
            network=_json_safe(dict(network or {})),
            training=_json_safe(dict(training or {})),
            sim2real_version=__version__,
            spec_files=dict(spec.files),
            model_overrides=tuple(spec.overrides),
            action_offset=tuple(float(x) for x in spec.action_offset),
            action_clip=_clip_pairs(spec.action_clip_low, spec.action_clip_high),
            action_limit=spec.action_limit,
            motor_order=tuple(spec.motor_order),
            held=tuple(spec.held),
            frame_stack=spec.frame_stack,
        )
        meta.check()
        return meta

    def check(self, source: str = "policy metadata") -> None:
        """Raise PolicyError when the fields contradict each other."""
        problems = []
        if len(self.default_pose) != len(self.joint_names):
            problems.append(
                f"{len(self.default_pose)} default pose values for {len(self.joint_names)} joints"
            )
        if len(self.action_scale) != self.n_act:
            problems.append(f"{len(self.action_scale)} action scales for {self.n_act} actuators")
        if self.action_offset and len(self.action_offset) != self.n_act:
            problems.append(f"{len(self.action_offset)} action offsets for {self.n_act} actuators")
        if len(self.actuators) != self.n_act or any(
            a.joint != j for a, j in zip(self.actuators, self.actuated_joints, strict=False)
        ):
            problems.append("actuators do not match actuated_joints")
        if any(j not in self.joint_names for j in self.actuated_joints):
            problems.append("an actuated joint is not among joint_names")
        if not 0.0 < self.action_filter <= 1.0:
            problems.append(f"action_filter {self.action_filter} outside (0, 1]")
        if not self.control_dt > 0:
            problems.append(f"control_dt {self.control_dt} is not positive")
        if self.action_clip and len(self.action_clip) != self.n_act:
            problems.append(f"{len(self.action_clip)} action clip bounds for {self.n_act} actuators")
        if self.action_limit is not None and not self.action_limit > 0:
            problems.append(f"action_limit {self.action_limit} is not positive")
        if self.motor_order and sorted(j for j in self.motor_order if j != NO_JOINT) != sorted(self.actuated_joints):
            problems.append(f"motor_order is not a permutation of the actuated joints (and {NO_JOINT} for empty slots)")
        if any(j not in self.actuated_joints for j in self.held) or len(self.held) >= max(self.n_act, 1):
            problems.append("action_hold must name some of the actuated joints, not all")
        if type(self.frame_stack) is not int or self.frame_stack < 1 or self.n_obs <= 0:
            problems.append(f"empty observation: {len(self.observation)} terms x frame_stack {self.frame_stack!r} frames")
        problems += _calibration_problems(self.calibration)
        if problems:
            raise PolicyError(f"{source}: inconsistent metadata: {'; '.join(problems)}")

    # -------------------------------------------------------------------- (de)serialize
    def to_props(self) -> dict[str, str]:
        """``metadata_props`` entries: key -> JSON text."""
        values: dict[str, Any] = {
            "format": FORMAT,
            "sim2real_version": self.sim2real_version,
            "robot": self.robot,
            "spec_hash": self.spec_hash,
            "joint_names": list(self.joint_names),
            "actuated_joints": list(self.actuated_joints),
            "default_pose": list(self.default_pose),
            "observation": [dataclasses.asdict(t) for t in self.observation],
            "n_obs": self.n_obs,
            "n_act": self.n_act,
            "action_scale": list(self.action_scale),
            "action_filter": self.action_filter,
            "actuators": [dataclasses.asdict(a) for a in self.actuators],
            "command_limits": [[_limit(a.command_low), _limit(a.command_high)] for a in self.actuators],
            "control_dt": self.control_dt,
            "task": self.task,
            "randomization": self.randomization,
            "network": dict(self.network),
            "training": dict(self.training),
            "export_check": dict(self.export_check),
            "spec_files": dict(self.spec_files),
            "model_overrides": list(self.model_overrides),
            "action_offset": list(self.action_offset),
            "action_clip": [list(pair) for pair in self.action_clip],
            "action_limit": self.action_limit,
            "recurrent": [dataclasses.asdict(r) for r in self.recurrent],
            "motor_order": list(self.motor_order),
        }
        if self.held:
            values["action_hold"] = list(self.held)
        values.update({"frame_stack": self.frame_stack} if self.frame_stack != 1 else {})
        if self.imported:
            values["imported"] = dict(self.imported)
        return {k: json.dumps(_json_safe(v), sort_keys=True) for k, v in values.items()}

    @classmethod
    def from_props(cls, props: Mapping[str, str], source: str = "policy") -> PolicyMetadata:
        """Parse ``metadata_props`` written by :meth:`to_props`.

        Raises:
            PolicyError: the file is not a sim2real policy, or an entry is missing or malformed.
        """
        if "format" not in props:
            raise PolicyError(
                f"{source}: ONNX model without sim2real policy metadata (no 'format' entry); a policy trained "
                "elsewhere becomes one with sim2real import isaaclab|legged-gym"
            )

        def get(key: str) -> Any:
            if key not in props:
                raise PolicyError(f"{source}: policy metadata has no '{key}' entry")
            try:
                return json.loads(props[key])
            except json.JSONDecodeError:
                raise PolicyError(f"{source}: policy metadata '{key}' is not valid JSON") from None

        fmt = get("format")
        if fmt != FORMAT:
            raise PolicyError(
                f"{source}: policy format {fmt!r} is not supported (this version reads {FORMAT})"
            )
        try:
            meta = cls(
                robot=str(get("robot")),
                spec_hash=str(get("spec_hash")),
                joint_names=tuple(str(j) for j in get("joint_names")),
                actuated_joints=tuple(str(j) for j in get("actuated_joints")),
                default_pose=tuple(float(x) for x in get("default_pose")),
                observation=tuple(_term(t) for t in get("observation")),
                action_scale=tuple(float(x) for x in get("action_scale")),
                action_filter=float(get("action_filter")),
                actuators=tuple(ActuatorSpec(**a) for a in get("actuators")),
                control_dt=float(get("control_dt")),
                task=str(get("task")),
                randomization=get("randomization"),
                network=get("network"),
                training=get("training"),
                export_check=json.loads(props.get("export_check", "{}")),
                sim2real_version=str(get("sim2real_version")),
                spec_files={str(k): str(v) for k, v in json.loads(props.get("spec_files", "{}")).items()},
                model_overrides=tuple(str(x) for x in json.loads(props.get("model_overrides", "[]"))),
                action_offset=tuple(float(x) for x in json.loads(props.get("action_offset", "[]"))),
                action_clip=tuple(
                    (_opt(lo), _opt(hi)) for lo, hi in json.loads(props.get("action_clip", "[]"))
                ),
                action_limit=_opt(json.loads(props.get("action_limit", "1.0"))),
                recurrent=tuple(
                    RecurrentState(str(r["input"]), str(r["output"]), tuple(int(x) for x in r["shape"]))
                    for r in json.loads(props.get("recurrent", "[]"))
                ),
                motor_order=tuple(str(j) for j in json.loads(props.get("motor_order", "[]"))),
                held=tuple(str(j) for j in json.loads(props.get("action_hold", "[]"))),
                imported=json.loads(props.get("imported", "{}")),
                frame_stack=json.loads(props.get("frame_stack", "1")),
            )
        except PolicyError:
            raise
        except (TypeError, KeyError, ValueError) as exc:
            raise PolicyError(f"{source}: malformed policy metadata ({exc})") from None
        meta.check(source)
        if get("n_obs") != meta.n_obs or get("n_act") != meta.n_act:
            raise PolicyError(f"{source}: inconsistent metadata: n_obs/n_act disagree with the layout")
        return meta

    # ---------------------------------------------------------------------- comparison
    def differences(self, spec: RobotSpec) -> list[str]:
        """What differs between this policy's robot and ``spec``, one line per item (empty: nothing)."""
        out = []

        def diff(what: str, mine: Any, theirs: Any) -> None:
            if mine == theirs:
                return
            if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs) > 1:
                # the differing items only: whole layouts would make the line unreadable
                for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
                    if a != b:
                        out.append(f"{what} [{i}]: policy {a} vs robot {b}")
                return
            out.append(f"{what}: policy {mine} vs robot {theirs}")

        diff("robot name", self.robot, spec.name)
        diff("joint names", list(self.joint_names), list(spec.joints))
        diff("actuated joints", list(self.actuated_joints), list(spec.actuated_joints))
        diff("held joints (action.hold)", list(self.held), list(spec.held))
        diff(
            "observation layout",
            [t.describe() for t in self.observation],
            [t.describe() for t in spec.observation],
        )
        diff("observation frames stacked (frame_stack)", self.frame_stack, spec.frame_stack)
        if len(self.default_pose) != spec.n_joints or not np.allclose(
            self.default_pose, spec.default_pose, rtol=0, atol=1e-12
        ):
            diff("default pose", list(self.default_pose), [float(x) for x in spec.default_pose])
        mine = {a.joint: a for a in self.actuators}
        theirs = {a.joint: a for a in spec.actuators}
        for joint in mine.keys() & theirs.keys():
            for f in dataclasses.fields(ActuatorSpec):
                a, b = getattr(mine[joint], f.name), getattr(theirs[joint], f.name)
                if a != b:
                    out.append(f"actuator {joint}.{f.name}: policy {a} vs robot {b}")
        diff("control period", self.control_dt, float(spec.control_dt))
        if not out and self.spec_hash != spec.hash:
            out.append(
                "spec content outside what the policy records (MJCF model, sensors, safety limits or "
                "parameter bounds)"
            )
        return out

    def check_spec(self, spec: RobotSpec, source: str = "policy") -> None:
        """Raise SpecMismatchError (naming both hashes and what differs) unless made for ``spec``."""
        if self.spec_hash == spec.hash:
            return
        differences = self.differences(spec)
        from sim2real.robots.files import changed_files

        shown = [d for d in differences if not d.startswith("robot name:")]  # named in the line already
        detail = None
        if shown:
            first = shown[0] if len(shown[0]) <= 90 else shown[0][:87] + "..."
            detail = f"differs: {first}{and_more(len(shown) - 1)}"
        for line in differences:
            logger.info("%s: %s", source, line)
        err = SpecMismatchError(
            source,
            expected=spec.hash,
            found=self.spec_hash,
            # the files that changed, for the same robot (another robot differs in every file)
            changed=changed_files(self.spec_files, spec.files) if self.robot == spec.name else (),
            expected_robot=spec.name,
            found_robot=self.robot,
            detail=detail,
        )
        err.differences = differences  # type: ignore[attr-defined]
        raise err


def _calibration_problems(record: Any) -> list[str]:
    """What is wrong with a ``training.calibration`` record (empty: nothing, or no record)."""
    if record is None:
        return []
    values = record.get("values") if isinstance(record, Mapping) else None
    if not isinstance(values, Mapping):
        return ["training.calibration has no 'values' map (parameter name -> value)"]
    bad = []
    for name, value in values.items():
        try:
            ok = bool(np.all(np.isfinite(np.asarray(value, dtype=float))))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad.append(str(name))
    return [f"training.calibration values of {', '.join(bad)} are not finite numbers"] if bad else []


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _clip_pairs(low: np.ndarray, high: np.ndarray) -> tuple[tuple[float | None, float | None], ...]:
    """Per-actuator clip bounds as (low, high) with None for unbounded; () when nothing is clipped."""
    pairs = tuple((_limit(float(lo)), _limit(float(hi))) for lo, hi in zip(low, high, strict=True))
    return pairs if any(lo is not None or hi is not None for lo, hi in pairs) else ()


def _term(raw: Mapping[str, Any]) -> ObservationTerm:
    """An observation term from its metadata entry (older files: name, size and scale only)."""

    def values(x: Any, none: float = math.nan) -> float | tuple[float, ...]:
        if isinstance(x, list | tuple):
            return tuple(none if v is None else float(v) for v in x)
        return none if x is None else float(x)

    clip = raw.get("clip")
    return ObservationTerm(
        name=str(raw["name"]),
        size=int(raw["size"]),
        scale=values(raw["scale"]),
        history=int(raw.get("history", 1)),
        clip=None if clip is None else (values(clip[0], -math.inf), values(clip[1], math.inf)),
        params=dict(raw.get("params") or {}),
    )


def read_metadata(path: str | Path) -> PolicyMetadata:
    """Read and check the metadata of a policy file (checksum included), without loading the graph.

    Raises:
        PolicyError: missing, unreadable, corrupted, or not a sim2real policy.
    """
    meta, _ = load_policy_file(path)
    return meta


def load_policy_file(path: str | Path) -> tuple[PolicyMetadata, bytes]:
    """Read a policy file: its checked metadata and its bytes (for an inference session)."""
    path = Path(path)
    source = f"policy {path}"
    if not path.is_file():
        raise PolicyError(f"policy file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read ({exc.strerror})") from None
    model = parse_model_bytes(data, source)
    meta = PolicyMetadata.from_props(model.props, source)
    stored = json.loads(model.props[CHECKSUM_KEY]) if CHECKSUM_KEY in model.props else None
    if stored != model.digest:
        raise PolicyError(
            f"{source}: content checksum mismatch, the file is corrupted or was modified after export"
        )
    return meta, data


def add_checksum(props: dict[str, str], serialized: bytes) -> str:
    """The checksum entry for a model serialized without it (returned JSON text; also stored in props)."""
    digest = parse_model_bytes(serialized).digest
    props[CHECKSUM_KEY] = json.dumps(digest)
    return props[CHECKSUM_KEY]


def stamp_metadata(model: Any, meta: PolicyMetadata) -> bytes:
    """Write ``meta`` and its checksum into an ONNX model's ``metadata_props``; returns the file's bytes.

    The one way a sim2real policy file is made (export, hand-made and imported policies alike):
    the producer, a description of the inputs and outputs, one JSON value per metadata key
    (replacing any there), then the checksum over the graph and every other entry.

    Args:
        model: An ``onnx.ModelProto`` with the graph (input ``obs``, output ``action``).
        meta: The policy's metadata.
    """
    from sim2real import __version__

    model.producer_name = "sim2real"
    model.producer_version = __version__
    model.doc_string = (
        f"sim2real policy for robot '{meta.robot}' (spec {meta.spec_hash[:12]}): "
        f"{INPUT_NAME} (batch, {meta.n_obs}) float32 -> {OUTPUT_NAME} (batch, {meta.n_act}) in [-1, 1]; "
        "observation normalization inside; deployment data in metadata_props (JSON values)"
    )
    props = meta.to_props()
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    checksum = add_checksum(props, model.SerializeToString())
    entry = model.metadata_props.add()
    entry.key, entry.value = CHECKSUM_KEY, checksum
    return model.SerializeToString()
