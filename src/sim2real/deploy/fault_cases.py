"""The faults of the fault-injection suite (:mod:`sim2real.deploy.faults` runs them).

Each :class:`Fault` says what it breaks (at the robot: pushed twin state; in the readings; in the
policy's output or input; at the loop: an e-stop), how long, which event kinds count as detecting
it, the least severe acceptable reaction and the escalation it needs by the end of its case, and
when it becomes observable.  :data:`FAULTS` lists them in the order the suite runs them.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from sim2real.deploy.body_geometry import front_point, leaf_bodies, passive_root
from sim2real.deploy.collision_reach import DEADLINE_S, MAX_SWING, swing, swing_fix
from sim2real.deploy.loop import ControlLoop, TickResult
from sim2real.deploy.safety import SafetyMonitor
from sim2real.deploy.safety_limits import command_window
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Reading
from sim2real.real.twin import TwinRobot
from sim2real.robots.actuation import ActuatorArrays, command_for_torque, implied_torque
from sim2real.robots.model import in_subtree
from sim2real.robots.spec import RobotSpec

__all__ = ["FAULTS", "Fault", "FaultContext"]


@dataclass
class FaultContext:
    """What a fault can touch."""

    spec: RobotSpec
    twin: TwinRobot
    loop: ControlLoop
    monitor: SafetyMonitor
    rng: np.random.Generator


class NotApplicableError(Sim2RealError):
    """A case that could not be tested on this robot, found only at its injection (e.g. no push on
    the link is visible to the collision observer in the pose the robot is in, or its thresholds are
    so high a push at them throws the link): the suite reports it as NOT TESTED with the reason, runs
    the other cases, and its result is not all-passed (a safety check nobody exercised)."""


class DoesNotApplyError(Sim2RealError):
    """A case that does not apply to this robot and policy, found only at its injection (e.g. the
    stage-speed guard for a policy whose stages slow the joint targets instead): listed with the
    cases :meth:`Fault.applies` rules out, and it does not fail the suite."""


class Fault:
    """One injected fault.  Subclasses override the hooks they need."""

    name = ""
    description = ""
    reaction = "safe_stop"
    """Least severe acceptable first reaction: clamp, hold or safe_stop."""
    escalation: str | None = None
    """Reaction the case must have reached by its end (e.g. a dropout beyond stale_timeout: safe_stop)."""
    kinds: tuple[str, ...] = ()
    """Event kinds that count as detecting it."""
    duration: int | None = None
    """Ticks the fault lasts (None: until the end of the case)."""
    floating_base_only = False
    needs_velocity_command = False
    deadline_s: float | None = None
    """When set, the reaction may come later than the onset tick, within this time of the fault's
    start (instead of within the same control period)."""
    lead_s = 0.0
    """Time from the fault's start to the tick it becomes observable [s] (counted in the deadline)."""

    def __init__(self, ctx: FaultContext) -> None:
        self.ctx = ctx
        self.active = False
        self.ticks_active = 0

    @classmethod
    def applies(cls, spec: RobotSpec) -> bool:
        if cls.floating_base_only and not spec.floating_base:
            return False
        return not (
            cls.needs_velocity_command and "velocity_command" not in [t.name for t in spec.observation]
        )

    def duration_ticks(self) -> int | None:
        return self.duration

    def horizon_ticks(self) -> int:
        """Ticks after the injection the fault may take to become observable (the case runs them on
        top of its tail); 0 for a fault observable at once."""
        return 0

    def inject(self) -> None:
        """Called before the read of the injection tick."""
        self.active = True

    def read(self) -> Reading:
        """The reading the loop gets while active (default: the twin's)."""
        return self.ctx.twin.read()

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        """The policy output the loop gets while active (default: unchanged)."""
        return u

    def observable(self, result: TickResult) -> bool:
        """Whether the fault shows in what the loop saw in this tick (it must react in it)."""
        return True

    def clear(self) -> None:
        """Called when the fault's duration is over."""
        self.active = False


def _stale_ticks(spec: RobotSpec) -> int:
    """Ticks of a dropout that stays below stale_timeout."""
    return max(1, math.floor(spec.safety.stale_timeout / spec.control_dt - 0.5))


def _joint_index(spec: RobotSpec, actuator: int) -> int:
    return spec.joints.index(spec.actuators[actuator].joint)


def _widest_actuator(spec: RobotSpec) -> int:
    """The actuator whose joint has the widest position range (room for command faults)."""
    idx = [_joint_index(spec, i) for i in range(spec.n_actions)]
    width = np.asarray(spec.safety.position_high)[idx] - np.asarray(spec.safety.position_low)[idx]
    return int(np.argmax(width))


def _replace(reading: Reading, **changes: Any) -> Reading:
    values = {f.name: getattr(reading, f.name) for f in dataclasses.fields(Reading)}
    values.update(changes)
    return Reading(**values)


class NanReading(Fault):
    name = "nan_reading"
    description = "NaN in the first joint position of the readings for 2 ticks"
    reaction = "safe_stop"
    kinds = ("nan_state",)
    duration = 2

    def read(self) -> Reading:
        r = self.ctx.twin.read()
        q = r.q.copy()
        q[0] = math.nan
        return _replace(r, q=q)


class NanPolicyOutput(Fault):
    name = "nan_policy_output"
    description = "the policy outputs NaN from now on (held, then a safe stop after stale_timeout)"
    reaction = "hold"
    escalation = "safe_stop"
    kinds = ("nan_command",)

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        return np.full_like(np.asarray(u, dtype=float), math.nan)


class InfPolicyOutput(Fault):
    name = "inf_policy_output"
    description = "the policy outputs +inf on one actuator for one tick (held, then resumes)"
    reaction = "hold"
    kinds = ("nan_command",)
    duration = 1

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        out = np.array(u, dtype=float)
        out[0] = math.inf
        return out


class NanPolicyInput(Fault):
    name = "nan_policy_input"
    description = "NaN velocity command for 2 ticks: the policy reports non-finite input, the monitor holds"
    reaction = "hold"
    kinds = ("nan_command",)
    duration = 2
    needs_velocity_command = True

    def inject(self) -> None:
        super().inject()
        self._saved = self.ctx.loop.velocity_command
        self.ctx.loop.set_velocity_command([math.nan, 0.0, 0.0])

    def clear(self) -> None:
        super().clear()
        self.ctx.loop.set_velocity_command(self._saved if self._saved is not None else np.zeros(3))


class StaleReading(Fault):
    name = "stale_reading"
    description = (
        "the readings stop updating (the last sample repeats): a safe stop once older than stale_timeout"
    )
    reaction = "safe_stop"
    kinds = ("stale",)

    def inject(self) -> None:
        super().inject()
        self.frozen = self.ctx.twin.read()

    def read(self) -> Reading:
        return self.frozen

    def observable(self, result: TickResult) -> bool:
        return result.now - self.frozen.t > self.ctx.spec.safety.stale_timeout


class DroppedBurst(Fault):
    name = "dropped_burst"
    description = "a burst of dropped readings shorter than stale_timeout: held, then resumes"
    reaction = "hold"
    kinds = ("stale",)

    def duration_ticks(self) -> int | None:
        return _stale_ticks(self.ctx.spec)

    def read(self) -> Reading:
        return Reading.dropped(self.ctx.twin.now(), self.ctx.spec.n_joints)


class SensorDropout(DroppedBurst):
    name = "sensor_dropout"
    description = "the readings stay dropped: held, then a safe stop by the watchdog after stale_timeout"
    escalation = "safe_stop"

    def duration_ticks(self) -> int | None:
        return None


class LatencySpike(Fault):
    name = "latency_spike"
    description = "the readings arrive 3 x stale_timeout late: held at once, then a safe stop by the watchdog"
    reaction = "hold"
    escalation = "safe_stop"
    kinds = ("stale",)

    def __init__(self, ctx: FaultContext) -> None:
        super().__init__(ctx)
        self.history: deque[Reading] = deque(maxlen=10_000)
        self.lag = 3.0 * ctx.spec.safety.stale_timeout

    def record(self, reading: Reading) -> None:
        self.history.append(reading)

    def read(self) -> Reading:
        fresh = self.ctx.twin.read()
        self.history.append(fresh)
        late = [r for r in self.history if r.t <= fresh.t - self.lag]
        return late[-1] if late else self.history[0]


class PositionLimit(Fault):
    name = "position_limit"
    description = "the twin's first actuated joint pushed 0.03 rad beyond its upper position limit"
    reaction = "safe_stop"
    kinds = ("position_limit",)
    duration = 1

    def inject(self) -> None:
        super().inject()
        spec = self.ctx.spec
        j = _joint_index(spec, 0)
        self.ctx.twin.set_state(joint_pos={spec.joints[j]: float(spec.safety.position_high[j]) + 0.03})


class VelocityLimit(Fault):
    name = "velocity_limit"
    description = "the twin's first actuated joint pushed to 1.25 x its velocity limit"
    reaction = "safe_stop"
    kinds = ("velocity_limit",)
    duration = 1

    def inject(self) -> None:
        super().inject()
        spec = self.ctx.spec
        j = _joint_index(spec, 0)
        self.ctx.twin.set_state(joint_vel={spec.joints[j]: 1.25 * float(spec.safety.velocity[j])})


class MeasuredTorque(Fault):
    name = "measured_torque"
    description = "the first actuated joint reports 1.5 x its torque limit for one tick"
    reaction = "safe_stop"
    kinds = ("torque_limit",)
    duration = 1

    def read(self) -> Reading:
        r = self.ctx.twin.read()
        spec = self.ctx.spec
        j = _joint_index(spec, 0)
        tau = np.zeros(spec.n_joints) if r.tau is None else r.tau.copy()
        tau[j] = 1.5 * float(spec.safety.torque[j])
        return _replace(r, tau=tau)


class TorqueCommand(Fault):
    name = "torque_command"
    description = (
        "the policy ramps one actuator's command (at 0.9 x the rate limit, so the rate limit never binds) "
        "to 1.5 x the command its torque limit allows: clamped at the torque limit (or stopped by the joint's "
        "velocity or position limit where the joint, following the ramp, reaches it first)"
    )
    """A pd joint follows its ramping target, so the goal is kept 1.5 x the torque window ahead of
    the joint's measured position, tick by tick, the way its range leaves more room: with a goal
    fixed at the start a light joint ran after the ramp (a command rate above its velocity limit)
    and a velocity or position limit or a leg striking the floor stopped it before any command
    implied a torque beyond the limit.  A joint whose torque limit is wide for its gains (A1's
    thigh: 55 N m at kp 25, a 2.2 rad window) still runs into its velocity limit first while it
    follows: the fault is then observable at that reading, and the velocity (or position) limit's
    reaction counts, as the hard limit the ramp broke."""
    reaction = "clamp"
    kinds = ("torque_limit", "velocity_limit", "position_limit")

    def inject(self) -> None:
        super().inject()
        self.i = _widest_actuator(self.ctx.spec)
        self.actuation = ActuatorArrays.from_spec(self.ctx.spec)
        self.request: float | None = None
        self.beyond = False
        self.first_beyond_tick: int | None = None

    def horizon_ticks(self) -> int:
        """A pd joint that keeps up with the ramp (its velocity limit caps the target's speed: a
        GR1T2 shoulder, 5.24 rad/s, a 1.5 rad torque window at kp 20) is stopped only by its position
        limit: the ramp's ticks from the default pose to the farther safety limit, and a few for the
        joint's lag."""
        spec = self.ctx.spec
        i = _widest_actuator(spec)
        if spec.actuators[i].model != "pd":
            return 0
        j = _joint_index(spec, i)
        step = 0.9 * float(self.ctx.monitor.max_step(spec.control_dt)[i])
        pose = float(spec.default_pose[j])
        room = max(float(spec.safety.position_high[j]) - pose, pose - float(spec.safety.position_low[j]))
        return math.ceil(room / step) + 5 if math.isfinite(step) and step > 0 else 0

    def _implied(self, value: float, reading: Reading) -> float:
        """The torque the request implies at the reading [N m]."""
        spec = self.ctx.spec
        index = [spec.joints.index(a.joint) for a in spec.actuators]
        command = np.full(spec.n_actions, value)
        return float(implied_torque(self.actuation, command, reading.q[index], reading.qd[index])[self.i])

    def _at_rest(self, tau: float, reading: Reading) -> float:
        """The command implying ``tau`` [N m] with the joint at rest where it is."""
        m = self.ctx.spec.n_actions
        q = np.full(m, float(reading.q[_joint_index(self.ctx.spec, self.i)]))
        return float(command_for_torque(self.actuation, np.full(m, tau), q, np.zeros(m))[self.i])

    def _beyond(self, value: float, reading: Reading) -> bool:
        spec = self.ctx.spec
        act = spec.actuators[self.i]
        j = _joint_index(spec, self.i)
        beyond = abs(self._implied(value, reading)) > float(spec.safety.torque[j])
        if act.model == "pd":
            return beyond or not spec.safety.position_low[j] <= value <= spec.safety.position_high[j]
        if act.model == "dc_motor":
            return beyond or abs(value) > act.voltage_limit
        return beyond

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        spec = self.ctx.spec
        act = spec.actuators[self.i]
        j = _joint_index(spec, self.i)
        out = np.array(u, dtype=float)
        limit = float(spec.safety.torque[j])
        if self.request is None:  # start from the policy's command, the way with more room
            self.request = float(out[self.i])
            q = float(reading.q[j])
            room_up, room_down = spec.safety.position_high[j] - q, q - spec.safety.position_low[j]
            self.sign = 1.0 if not room_down > room_up else -1.0
            if act.model == "dc_motor":  # 1.5 x the supply, or x the voltage of the limit at rest
                self.goal = self.sign * 1.5 * max(act.voltage_limit, abs(self._at_rest(limit, reading)))
        if act.model != "dc_motor":  # the command implying 1.5 x the limit with the joint at rest where it is now
            self.goal = self._at_rest(self.sign * 1.5 * limit, reading)
        step = 0.9 * float(self.ctx.monitor.max_step(spec.control_dt)[self.i])
        ahead = self.request + self.sign * step
        self.request = min(ahead, self.goal) if self.sign > 0 else max(ahead, self.goal)
        out[self.i] = self.request
        if self._beyond(self.request, reading):
            self.beyond = True
        return out

    def observable(self, result: TickResult) -> bool:
        reading = result.reading
        if self.request is not None and reading is not None and reading.valid:  # the joint ran into a limit
            spec, j = self.ctx.spec, _joint_index(self.ctx.spec, self.i)
            q, qd = float(reading.q[j]), float(reading.qd[j])
            if abs(qd) > float(spec.safety.velocity[j]) or not spec.safety.position_low[j] <= q <= spec.safety.position_high[j]:
                self.beyond = True
        return self.beyond


class RateSpike(Fault):
    """The policy's command of one actuator jumps beyond the rate limit's step for one tick.

    The jump goes the way with more room inside the hard limits at the reading (position and the
    torque the command implies): 2 x the step, or halfway between the step and the hard limit when
    that is nearer, so that the rate limit is what clamps it.  Where the hard limits leave less
    than one step of room either way (a stiff pd joint whose torque window, torque limit / kp, is
    narrower than the rate limit's step), no command is beyond the step and inside them: the jump is
    2 x the step and the clamp of the hard limit counts as well.
    """

    name = "rate_spike"
    description = "the policy's command of one actuator jumps beyond the rate limit's step for one tick"
    reaction = "clamp"
    kinds: tuple[str, ...] = ("rate_limit", "velocity_limit")
    duration = 1

    def command(self, u: np.ndarray, reading: Reading) -> np.ndarray:
        spec, monitor = self.ctx.spec, self.ctx.monitor
        i = _widest_actuator(spec)
        out = np.array(u, dtype=float)
        step = float(monitor.max_step(spec.control_dt)[i])
        index = monitor.limits.index
        window = command_window(monitor.limits, reading.q[index], reading.qd[index])
        up, down = float(window.high[i]) - out[i], out[i] - float(window.low[i])
        room = max(up, down)
        if room > step:
            jump = min(2.0 * step, 0.5 * (step + room))
        else:
            jump = 2.0 * step
            self.kinds = (*RateSpike.kinds, "torque_limit", "position_limit")
        out[i] = out[i] + jump if up >= down else out[i] - jump
        self.description = (
            f"the command of {spec.actuators[i].actuator} jumps by {jump:.4g} for one tick (rate limit's step "
            f"{step:.4g}" + (", wider than the hard limits' room: their clamp counts too)" if room <= step else ")")
        )
        return out


class Tilt(Fault):
    name = "tilt"
    description = (
        "the twin's base tilted 1.2 x the tilt limit about x (lifted to 0.5 m so no leg enters the floor)"
    )
    reaction = "safe_stop"
    kinds = ("tilt",)
    duration = 1
    floating_base_only = True

    @classmethod
    def applies(cls, spec: RobotSpec) -> bool:
        return super().applies(spec) and spec.safety.tilt is not None  # none for a robot hung by its base

    def inject(self) -> None:
        super().inject()
        limit = float(self.ctx.spec.safety.tilt or 0.5)
        angle = 1.2 * limit
        quat = np.array([math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0])
        low, high = self.ctx.spec.safety.base_height_low, self.ctx.spec.safety.base_height_high
        height = 0.5 if low is None or high is None else min(0.5, 0.5 * (low + high))
        self.ctx.twin.set_state(base_height=height, base_quat=quat)


class Height(Fault):
    name = "height"
    description = "the twin's base pushed below its height limit (legs folded, base 5 mm under the limit)"
    reaction = "safe_stop"
    kinds = ("height",)
    duration = 1
    floating_base_only = True

    @classmethod
    def applies(cls, spec: RobotSpec) -> bool:
        return super().applies(spec) and spec.safety.base_height_low is not None

    def inject(self) -> None:
        super().inject()
        spec = self.ctx.spec
        twin = self.ctx.twin
        folded: dict[str, float] = {}
        for j, name in enumerate(spec.joints):  # fold the legs: each joint to 90 % of the way to a limit
            lo, hi = float(spec.safety.position_low[j]), float(spec.safety.position_high[j])
            q = float(spec.default_pose[j])
            far = hi if hi - q > q - lo else lo
            folded[name] = q + 0.9 * (far - q) if "hip" not in name else q
        height = float(spec.safety.base_height_low) - 0.005
        twin.set_state(joint_pos=folded, base_height=height, base_quat=np.array([1.0, 0.0, 0.0, 0.0]))


class StageSpeed(Fault):
    """Below 100 % the base runs faster than the stage lets it: what a policy that ignores its
    scaled velocity command does.  The case runs at the first stage (10 %, zero command); from the
    injection the readings' base velocity (what the estimator says) is 3 x the stage's speed cap,
    forward.  The guard (:mod:`sim2real.deploy.stage_speed`) must safe-stop within its filter's
    rise to the cap and its timeout (plus a control period)."""

    name = "stage_speed"
    description = (
        "at the first stage, the base velocity reads 3 x the stage's speed cap: a safe stop after the timeout"
    )
    reaction = "safe_stop"
    kinds = ("stage_speed",)
    floating_base_only = True
    needs_velocity_command = True

    def __init__(self, ctx: FaultContext) -> None:
        super().__init__(ctx)
        ctx.loop.speed.start_at(0)  # before the warm-up: the guard checks stages below 100 % only
        guard = ctx.loop.stage_speed
        config = guard.config if guard is not None else None
        # the filter reaches the cap after filter_s ln(1.5) (a step to 3 x the cap), then the timeout
        self.deadline_s = None
        if config is not None:
            self.deadline_s = config.filter_s * math.log(1.5) + config.timeout + 2 * float(ctx.spec.control_dt)
        self.speed = math.nan

    def horizon_ticks(self) -> int:
        return 0 if self.deadline_s is None else math.ceil(self.deadline_s / float(self.ctx.spec.control_dt))

    def inject(self) -> None:
        guard = self.ctx.loop.stage_speed
        if guard is None or guard.caps is None:
            raise DoesNotApplyError(
                "the loop does not cap this policy's speed (its stages slow the joint targets)"
            )
        super().inject()
        self.speed = 3.0 * guard.caps[0]
        self.description = (
            f"at the first stage, the base velocity reads {self.speed:.3g} m/s (3 x the stage's cap)"
        )

    def read(self) -> Reading:
        return _replace(self.ctx.twin.read(), base_lin_vel=np.array([self.speed, 0.0, 0.0]))


class Estop(Fault):
    name = "estop"
    description = "an e-stop request"
    reaction = "safe_stop"
    kinds = ("estop",)
    duration = 1

    def inject(self) -> None:
        super().inject()
        self.ctx.loop.request_estop("fault-injection e-stop")


class Collision(Fault):
    """An external force on a link for 0.2 s, then released: the collision observer must see it
    within 50 ms (counted from the force's start), hold (or safe-stop, per the spec's reaction) and
    resume once it is gone.

    The link: on a fixed base the tip of the kinematic chain (the last leaf body the spec's joints
    move), pushed at its centre of mass along a world axis; on a floating base the base body, pushed at its front (the
    surface straight ahead of its origin, :func:`front_point`) or at its centre of mass, forward,
    sideways or vertically (the base's axes).  Of these the push the observer sees best at the
    injection (:meth:`CollisionDetector.sensitivity`, at the reading of that tick), with the
    magnitude 3 x the force at the detection threshold there, so every robot gets a collision of
    the same severity relative to its thresholds.  On a humanoid standing on two flat feet that is
    a push through the pelvis's centre of mass, seen by the accelerometer: the feet explain most
    torques on the pelvis (see :mod:`sim2real.deploy.collision`).
    """

    name = "collision"
    description = "an external force on a link (3 x the detection threshold) for 0.2 s: detected within 50 ms"
    kinds = ("collision",)
    deadline_s = DEADLINE_S

    def __init__(self, ctx: FaultContext) -> None:
        super().__init__(ctx)
        self.reaction = ctx.spec.safety.collision.reaction
        self.lead_s = float(ctx.spec.control_dt)

    @classmethod
    def applies(cls, spec: RobotSpec) -> bool:
        return super().applies(spec) and spec.safety.collision.enabled

    def duration_ticks(self) -> int | None:
        return max(2, round(0.2 / self.ctx.spec.control_dt))

    def _target(self) -> tuple[int, list[tuple[np.ndarray, np.ndarray, str]]]:
        """Body id (twin model) and candidate pushes: (point in the body's frame, direction in the
        world frame, what it is)."""
        model, data = self.ctx.twin.model, self.ctx.twin.data
        spec = self.ctx.spec
        # the trunk of a robot on its feet: a floating base (not a hung one: the stand's; push a leg), a
        # planar walker's root (its last leaf is a foot, which the observer expects to push back: gymnasium's
        # hopper got a 3.6e13 N "push" at its tiny sensitivity there)
        on_feet = spec.floating_base and not self.ctx.twin.fixed_base
        if on_feet or passive_root(spec, model):
            if on_feet:
                body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
            else:
                body = int(model.body_rootid[model.jnt_bodyid[model.joint(spec.joints[0]).id]])
            rot = data.xmat[body].reshape(3, 3)
            points = {"its front": front_point(model, data, body), "its centre of mass": model.body_ipos[body].copy()}
            axes = ("forward", "sideways", "vertical")
            return body, [(p, rot[:, i].copy(), f"{axes[i]} at {where}") for where, p in points.items() for i in range(3)]
        # the robot's chain: a scene's prop (Gymnasium reacher's target) may be the model's last leaf
        carriers = [int(model.jnt_bodyid[model.joint(j).id]) for j in spec.joints]
        moved = [b for b in leaf_bodies(model) if any(in_subtree(model, b, c) for c in carriers)]
        body = max(moved or leaf_bodies(model))
        return body, [(model.body_ipos[body].copy(), np.eye(3)[i], f"along world {'xyz'[i]} at its centre of mass") for i in range(3)]

    def inject(self) -> None:
        super().inject()
        detector = self.ctx.monitor.collision
        assert detector is not None, "collision detection is disabled"
        twin = self.ctx.twin
        body, candidates = self._target()
        name = twin.model.body(body).name
        reading = twin.read()
        gains = [detector.sensitivity(reading, name, p, d) for p, d, _ in candidates]
        best = int(np.argmax(gains))
        if not gains[best] > 0:
            raise NotApplicableError(
                f"no force on {name} is visible to the observer in this pose: the expected contacts explain "
                "every push on it (check safety.collision.contacts and the feet's collision geoms, docs/safety.md)"
            )
        local, direction, what = candidates[best]
        force = 3.0 / gains[best] * direction
        point = twin.data.xpos[body] + twin.data.xmat[body].reshape(3, 3) @ local
        joint, turn = swing(twin.model, twin.data.qpos, body, point, force, self.ctx.spec.joints, DEADLINE_S)
        if turn > MAX_SWING:
            raise NotApplicableError(
                f"a push at 3 x the detection threshold on {name} ({np.linalg.norm(force):.3g} N) would swing "
                f"{joint} by {turn:.3g} rad within the {1e3 * DEADLINE_S:.0f} ms deadline (more than "
                f"{MAX_SWING} rad: it throws the link into its limits or the robot's other links, where the observer "
                f"cannot tell it from the contact stopping it); " + swing_fix(self.ctx.spec, detector, joint)
            )
        self.magnitude = float(np.linalg.norm(force))
        self.body = body
        twin.data.xfrc_applied[body, :3] = force
        twin.data.xfrc_applied[body, 3:] = np.cross(point - twin.data.xipos[body], force)
        self.description = f"{self.magnitude:.3g} N on {name}, {what}, for 0.2 s (3 x the detection threshold)"

    def observable(self, result: TickResult) -> bool:
        return self.ticks_active >= 2  # the force acts from the injection tick's write on

    def clear(self) -> None:
        super().clear()
        self.ctx.twin.data.xfrc_applied[self.body] = 0.0


FAULTS: tuple[type[Fault], ...] = (
    NanReading,
    NanPolicyOutput,
    InfPolicyOutput,
    NanPolicyInput,
    StaleReading,
    DroppedBurst,
    SensorDropout,
    LatencySpike,
    PositionLimit,
    VelocityLimit,
    MeasuredTorque,
    TorqueCommand,
    RateSpike,
    Tilt,
    Height,
    StageSpeed,
    Estop,
    Collision,
)
"""Every fault of the suite (``policy_missing`` is run separately: it happens before the loop)."""
