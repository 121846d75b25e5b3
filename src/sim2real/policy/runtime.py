"""PolicyRunner: the real-time policy runtime (numpy + onnxruntime; never imports torch).

One control step, for one robot::

    readings (joint pos/vel, IMU gyro + quaternion, velocity command, base velocity)
      -> observation: the policy's layout, same term semantics as training    (ObservationBuilder:
                                                        clip, scale, history, phase clock,
                                                        whole frames stacked)
      -> network in onnxruntime (IO binding)            action a (recurrent state carried over)
      -> |a| <= action_limit, low-pass filter           a_f = alpha a + (1 - alpha) a_f
      -> actuator commands                              offset + scale * a_f, clipped to the
                                                        action clip and the actuator command limits

exactly as :meth:`sim2real.envs.core.TaskEnv.step` maps actions in training.  A recurrent policy
(metadata ``recurrent``: e.g. an LSTM's hidden and cell state as extra graph inputs and outputs)
gets each step the state the previous step produced, zeros after :meth:`PolicyRunner.reset`.

Latency: a one-thread session with every graph optimization, input and output bound once to
preallocated buffers (IO binding), and no numpy allocation per step.  The arrays a step returns
are read-only views of the runner's buffers: they change at the next step (copy to keep them).

Non-finite input (NaN or inf in any reading): :meth:`PolicyRunner.step` does not raise and does
not run the network.  It returns the previous command unchanged (the filter state is left as it
was), and sets ``runner.last_input_finite = False`` (and counts ``runner.invalid_steps``).  The
safety layer must check ``last_input_finite`` after every step and decide (hold, damp, stop).
Wrong input sizes are a :class:`~sim2real.errors.PolicyError`: a programming error, not a sensor fault.
A network output that is not finite (NaN, or inf from an overflow) gives NaN commands at those
actuators, for the safety layer to hold on: the action limit and the command clip never turn an
inf into a full-scale command.

Not thread-safe: one runner per control loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort

from sim2real.errors import PolicyError
from sim2real.policy.metadata import INPUT_NAME, OUTPUT_NAME, PolicyMetadata, load_policy_file
from sim2real.policy.observation import ObservationBuilder
from sim2real.robots.spec import RobotSpec

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
"""Execution providers the runtime uses, in order of preference, when they are available."""

Providers = Literal["auto", "cpu"] | Sequence[str]


def select_providers(requested: Providers = "auto", available: Sequence[str] | None = None) -> list[str]:
    """Execution providers for a session: ``auto`` (TensorRT, CUDA when present, then CPU), ``cpu``,
    or an explicit list (each must be available); CPU is always the last fallback.

    For one robot and a small MLP the CPU provider usually has the lowest latency (no device copies);
    pass ``"cpu"`` to force it.
    """
    available = list(ort.get_available_providers() if available is None else available)
    if requested == "auto":
        chosen = [p for p in PREFERRED_PROVIDERS if p in available]
    elif requested == "cpu":
        chosen = ["CPUExecutionProvider"]
    else:
        chosen = list(requested)
        missing = [p for p in chosen if p not in available]
        if missing:
            raise PolicyError(
                f"execution provider(s) {', '.join(missing)} not available (available: {', '.join(available)})"
            )
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def session_options() -> ort.SessionOptions:
    """Options for the lowest single-robot latency: one thread, sequential, every graph optimization."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only
    return opts


def make_session(model: bytes, providers: Providers = "auto", source: str = "policy") -> ort.InferenceSession:
    """An inference session with :func:`session_options` on a serialized model.

    Raises:
        PolicyError: onnxruntime cannot load the graph (one line, naming the source).
    """
    try:
        return ort.InferenceSession(model, session_options(), providers=select_providers(providers))
    except PolicyError:
        raise
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PolicyError(f"{source}: onnxruntime cannot load the graph ({first[:300]})") from None


def check_io(session: ort.InferenceSession, meta: PolicyMetadata, source: str = "policy") -> None:
    """Raise PolicyError unless the graph has input obs (batch, n_obs) float32 and output action
    (batch, n_act), plus exactly the recurrent state inputs and outputs the metadata names."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    state_in = {r.input: r for r in meta.recurrent}
    state_out = {r.output: r for r in meta.recurrent}
    if set(inputs) != {INPUT_NAME, *state_in} or inputs[INPUT_NAME].type != "tensor(float)":
        extra = sorted(set(inputs) - {INPUT_NAME, *state_in})
        detail = (
            f" (it has inputs {', '.join(sorted(inputs))}: a recurrent state the metadata does not name?)"
            if extra
            else ""
        )
        raise PolicyError(f"{source}: the graph must have one float32 input '{INPUT_NAME}'{detail}")
    if set(outputs) != {OUTPUT_NAME, *state_out} or outputs[OUTPUT_NAME].type != "tensor(float)":
        raise PolicyError(f"{source}: the graph must have one float32 output '{OUTPUT_NAME}'")
    for name, state in (*state_in.items(), *state_out.items()):
        arg = inputs.get(name) or outputs[name]
        fixed = [d for d in arg.shape if isinstance(d, int)]
        if arg.type != "tensor(float)" or len(arg.shape) != len(state.shape) or fixed != [
            d for d, g in zip(state.shape, arg.shape, strict=True) if isinstance(g, int)
        ]:
            raise PolicyError(
                f"{source}: recurrent state '{name}' has shape {arg.shape}, the metadata says {list(state.shape)}"
            )
    for arg, n, what in ((inputs[INPUT_NAME], meta.n_obs, "n_obs"), (outputs[OUTPUT_NAME], meta.n_act, "n_act")):
        shape = arg.shape
        if len(shape) != 2 or shape[1] != n:
            raise PolicyError(
                f"{source}: '{arg.name}' has shape {shape}, the metadata says (batch, {n}) ({what})"
            )


def _readonly(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.setflags(write=False)
    return view


class PolicyRunner:
    """Runs an exported policy on one robot.

    Args:
        path: The ``.onnx`` policy file.
        spec: The robot it runs on; the policy must have been exported for this spec (same hash).
        providers: ``auto`` (TensorRT / CUDA when available, CPU fallback), ``cpu``, or a list.
        verify_observation: Check the observation kernels against the training term functions.

    Raises:
        PolicyError: the file is missing, truncated, not ONNX, corrupted or has no sim2real metadata.
        SpecMismatchError: the policy was made for another spec (names both hashes and what differs).

    Attributes:
        metadata: The policy's metadata.
        last_input_finite: False when the last step's inputs held NaN or inf (command held, see module doc).
        invalid_steps: Number of steps with non-finite input since construction.
    """

    def __init__(
        self,
        path: str | Path,
        spec: RobotSpec,
        *,
        providers: Providers = "auto",
        verify_observation: bool = True,
    ) -> None:
        self.path = Path(path)
        source = f"policy {self.path}"
        meta, data = load_policy_file(self.path)
        meta.check_spec(spec, source)
        self.metadata = meta
        self.spec = spec
        self.session = make_session(data, providers, source)
        check_io(self.session, meta, source)
        self.providers = tuple(self.session.get_providers())

        self.n_obs, self.n_act, self.n_joints = meta.n_obs, meta.n_act, len(meta.joint_names)
        self.joint_names = meta.joint_names
        self.control_dt = meta.control_dt
        self._builder = ObservationBuilder(
            meta.observation,
            np.array(meta.default_pose),
            self.n_act,
            meta.control_dt,
            verify=verify_observation,
            driven=meta.action_index,  # last_action: a held actuator's (meta.held) is left out
            frames=meta.frame_stack,
        )
        needs = self._builder.needs
        self._need_gyro = "gyro" in needs
        self._need_quat = "quat" in needs
        self._need_cmd = "velocity_command" in needs
        self._need_lin = "base_lin_vel" in needs
        self._need_scan = "height_scan" in needs
        self._scan_shape = (self._builder.scan_points,)

        # preallocated buffers; the session reads _obs32 and writes _act32 in place
        self._obs32 = np.zeros((1, self.n_obs), dtype=np.float32)
        self._act32 = np.zeros((1, self.n_act), dtype=np.float32)
        self._obs32_row = self._obs32[0]
        self._act32_row = self._act32[0]
        self._ones32 = np.ones(self.n_obs, dtype=np.float32)
        self._action = np.zeros(self.n_act)
        self._filtered = np.zeros(self.n_act)
        self._tmp = np.zeros(self.n_act)
        self._command = np.zeros(self.n_act)
        self._alpha = float(meta.action_filter)
        self._beta = 1.0 - self._alpha
        self._scale = np.array(meta.action_scale)
        self._offset = meta.command_offset
        clip_low, clip_high = meta.command_clip
        self._low = np.maximum(meta.command_low, clip_low)
        self._high = np.minimum(meta.command_high, clip_high)
        self._clip = bool(np.isfinite(self._low).any() or np.isfinite(self._high).any())
        self._limit = meta.action_limit
        self._jshape = (self.n_joints,)
        self._ashape = (self.n_act,)

        self._io = self.session.io_binding()
        self._io.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self._obs32))
        self._io.bind_ortvalue_output(OUTPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self._act32))
        # recurrent state: the input buffer is bound once; each step's output is copied into it
        self._state_in: list[np.ndarray] = []
        self._state_out: list[np.ndarray] = []
        for state in meta.recurrent:
            buf_in = np.zeros(state.shape, dtype=np.float32)
            buf_out = np.zeros(state.shape, dtype=np.float32)
            self._io.bind_ortvalue_input(state.input, ort.OrtValue.ortvalue_from_numpy(buf_in))
            self._io.bind_ortvalue_output(state.output, ort.OrtValue.ortvalue_from_numpy(buf_out))
            self._state_in.append(buf_in)
            self._state_out.append(buf_out)
        self._run = self.session.run_with_iobinding

        self.observation = _readonly(self._obs32_row)
        """Last observation fed to the network, (n_obs,) float32 (read-only view)."""
        self.action = _readonly(self._action)
        """Last raw network action, (n_act,) in [-1, 1] (read-only view)."""
        self.filtered_action = _readonly(self._filtered)
        """Filter state a_f, (n_act,) (read-only view); the observation's ``last_action`` (its driven
        entries: a held actuator's, ``metadata.held``, is left out)."""
        self.command = _readonly(self._command)
        """Last actuator command, (n_act,) in command units (read-only view)."""
        self.last_input_finite = True
        self.invalid_steps = 0
        self._warm_up()
        self.reset()
        log.info("policy %s for %s on %s", self.path.name, meta.robot, ", ".join(self.providers))

    def _warm_up(self) -> None:
        for _ in range(10):
            self._run(self._io)

    # ----------------------------------------------------------------------- control
    def reset(self) -> None:
        """Clear the policy's state: the filter (a_f = 0: the command becomes the zero action's,
        the default pose for pd), the observation history (a stacked layout's frames: zeros), the
        phase clock and the recurrent state."""
        self._filtered.fill(0.0)
        self._action.fill(0.0)
        for buf in self._state_in:
            buf.fill(0.0)
        self._builder.reset()
        self._map_command()
        self.last_input_finite = True

    @property
    def recurrent_state(self) -> tuple[np.ndarray, ...]:
        """The recurrent state the next step starts from (read-only views; empty when stateless)."""
        return tuple(_readonly(b) for b in self._state_in)

    def _map_command(self) -> None:
        np.multiply(self._scale, self._filtered, out=self._command)
        np.add(self._command, self._offset, out=self._command)
        if self._clip:
            np.clip(self._command, self._low, self._high, out=self._command)

    def _vector(self, value: Any, n: int, name: str) -> np.ndarray:
        if value is None:
            raise PolicyError(f"this policy's observation needs '{name}', which was not given")
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise PolicyError(f"{name} must be {n} numbers") from None
        if array.size != n or array.ndim > 2 or (array.ndim == 2 and array.shape[0] != 1):
            raise PolicyError(f"{name} has shape {array.shape}, the policy expects ({n},)")
        return array.reshape(n)

    def step(
        self,
        joint_pos: np.ndarray,
        joint_vel: np.ndarray,
        gyro: np.ndarray | None = None,
        quat: np.ndarray | None = None,
        velocity_command: np.ndarray | None = None,
        base_lin_vel: np.ndarray | None = None,
        height_scan: np.ndarray | None = None,
    ) -> np.ndarray:
        """One control step from the robot's readings.

        Args:
            joint_pos: Measured joint positions, (n_joints,) in policy joint order [rad].
            joint_vel: Measured joint velocities, (n_joints,) [rad/s].
            gyro: Base angular velocity from the IMU, (3,) [rad/s] (when the layout has base_ang_vel).
            quat: Base orientation from the IMU (w, x, y, z), (4,) (when it has projected_gravity).
            velocity_command: (vx [m/s], vy [m/s], yaw rate [rad/s]), (3,) (when it has velocity_command).
            base_lin_vel: Base linear velocity in the base frame, (3,) [m/s] (when it has base_lin_vel:
                an estimator's on a robot).
            height_scan: The base's height above the terrain at each point of the layout's scan grid,
                (n_points,) [m] (when it has height_scan: ray casts on a MuJoCo twin).

        Returns:
            Actuator commands, (n_act,) in command units (rad targets, N m or V), read-only view
            that the next step overwrites.  On non-finite input: the previous command, and
            ``last_input_finite`` is False.

        Raises:
            PolicyError: an input has the wrong size, or an input the layout needs is missing.
        """
        if type(joint_pos) is not np.ndarray or joint_pos.shape != self._jshape:
            joint_pos = self._vector(joint_pos, self.n_joints, "joint_pos")
        if type(joint_vel) is not np.ndarray or joint_vel.shape != self._jshape:
            joint_vel = self._vector(joint_vel, self.n_joints, "joint_vel")
        if self._need_gyro and (type(gyro) is not np.ndarray or gyro.shape != (3,)):
            gyro = self._vector(gyro, 3, "gyro")
        if self._need_quat and (type(quat) is not np.ndarray or quat.shape != (4,)):
            quat = self._vector(quat, 4, "quat")
        if self._need_cmd and (type(velocity_command) is not np.ndarray or velocity_command.shape != (3,)):
            velocity_command = self._vector(velocity_command, 3, "velocity_command")
        if self._need_lin and (type(base_lin_vel) is not np.ndarray or base_lin_vel.shape != (3,)):
            base_lin_vel = self._vector(base_lin_vel, 3, "base_lin_vel")
        if self._need_scan and (type(height_scan) is not np.ndarray or height_scan.shape != self._scan_shape):
            height_scan = self._vector(height_scan, self._scan_shape[0], "height_scan")

        obs = self._builder.build(
            joint_pos, joint_vel, self._filtered, gyro, quat, velocity_command, base_lin_vel, height_scan
        )
        np.copyto(self._obs32_row, obs)
        if not math.isfinite(self._obs32_row.dot(self._ones32)):
            self.last_input_finite = False
            self.invalid_steps += 1
            return self.command
        self.last_input_finite = True
        self._builder.commit()
        self._run(self._io)
        for buf_in, buf_out in zip(self._state_in, self._state_out, strict=True):
            np.copyto(buf_in, buf_out)
        np.copyto(self._action, self._act32_row)
        if not math.isfinite(self._action.sum()):  # inf (an overflow): NaN, as a NaN output, never a clipped full scale
            self._action[~np.isfinite(self._action)] = math.nan
        if self._limit is not None:
            np.clip(self._action, -self._limit, self._limit, out=self._action)
        if self._beta == 0.0:
            np.copyto(self._filtered, self._action)
        else:
            np.multiply(self._action, self._alpha, out=self._tmp)
            np.multiply(self._filtered, self._beta, out=self._filtered)
            np.add(self._tmp, self._filtered, out=self._filtered)
        self._map_command()
        return self.command

    def step_reading(self, reading: Any, velocity_command: np.ndarray | None = None) -> np.ndarray:
        """:meth:`step` from a robot ``Reading`` (attributes ``q``, ``qd``, ``gyro``, ``quat``, and
        ``base_lin_vel`` and ``height_scan`` when the reading has them)."""
        return self.step(
            reading.q,
            reading.qd,
            reading.gyro,
            reading.quat,
            velocity_command,
            getattr(reading, "base_lin_vel", None),
            getattr(reading, "height_scan", None),
        )

    # ------------------------------------------------------------------ offline helpers
    def infer(self, obs: np.ndarray) -> np.ndarray:
        """Raw network actions for observations (B, n_obs) -> (B, n_act); allocates.

        A stateless policy takes them as one batch; a recurrent one (or a graph with a fixed batch
        of one) takes them one row at a time, as a sequence from the zero state.
        """
        array = np.asarray(obs, dtype=np.float32)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != self.n_obs:
            raise PolicyError(
                f"observations have shape {array.shape}, the policy expects (batch, {self.n_obs})"
            )
        return run_sequence(self.session, self.metadata, array)


def run_sequence(session: ort.InferenceSession, meta: PolicyMetadata, obs: np.ndarray) -> np.ndarray:
    """Network actions (B, n_act) for observations (B, n_obs) float32: one batch for a stateless
    graph with a free batch axis, else row by row, carrying the recurrent state from zeros."""
    batch_axis = session.get_inputs()[0].shape[0] if session.get_inputs() else None
    if not meta.recurrent and not (isinstance(batch_axis, int) and len(obs) != batch_axis):
        return session.run([OUTPUT_NAME], {INPUT_NAME: obs})[0]
    state = {r.input: np.zeros(r.shape, dtype=np.float32) for r in meta.recurrent}
    names = [OUTPUT_NAME, *(r.output for r in meta.recurrent)]
    rows = []
    for i in range(len(obs)):
        out = session.run(names, {INPUT_NAME: obs[i : i + 1], **state})
        rows.append(out[0])
        state = {r.input: value for r, value in zip(meta.recurrent, out[1:], strict=True)}
    return np.concatenate(rows) if rows else np.zeros((0, meta.n_act), dtype=np.float32)
