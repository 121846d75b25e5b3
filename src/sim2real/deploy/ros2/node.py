"""The deployment control loop as a ROS 2 node: what ``sim2real deploy --ros2`` runs.

**PolicyDeploymentNode** runs the deployment control loop (:func:`sim2real.deploy.loop_build.build_loop`:
reading, policy, SafetyMonitor, speed progression, rosbag2 log) on a ROS 2 timer at the spec's
control rate, talking to the robot through a :class:`~sim2real.real.ros2.robot.Ros2Robot` on the
same node::

    timer (steady clock, 1 / control_dt)  -> loop.tick()        read -> policy -> safety -> write -> log
    /sim2real/estop          std_msgs/Bool       True: e-stop (latched; the robot is sent to safe mode at once)
    /sim2real/trigger_estop  std_srvs/Trigger    the same, as a service
    /sim2real/reset          std_srvs/Trigger    release a latched safe stop (refused unless the state is safe
                                                 and the e-stop topic's last message is False or none came)
    /diagnostics             diagnostic_msgs/DiagnosticArray   safety state, speed stage, loop timing

The control timer starts once the robot is there (a valid reading), so the safety watchdog does not
fire on a robot that is still being discovered.  An e-stop does not wait for the next tick: its
callback latches the monitor and publishes safe mode immediately.  :func:`run_ros2_deploy` builds
the node and spins it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim2real.deploy.collision_model import ObserverModel
from sim2real.deploy.loop import ControlLoop, LoopConfig
from sim2real.deploy.loop_build import build_loop
from sim2real.deploy.loop_log import warm_up_log
from sim2real.deploy.ros2.timing import LoopTiming
from sim2real.errors import Sim2RealError
from sim2real.real.ros2 import Context, Node  # raises MissingExtraError without the ros2 extra
from sim2real.real.ros2.config import QosSettings, Ros2Config
from sim2real.real.ros2.diagnostics import STATUS_ERROR, STATUS_HEALTHY, STATUS_WARN, status
from sim2real.real.ros2.robot import Ros2Robot
from sim2real.real.ros2.runtime import (
    ExecutorKind,
    make_executor,
    node_session,
    quiet_gc,
    spin_until,
    steady_clock,
)
from sim2real.robots.spec import RobotSpec

__all__ = [
    "DIAGNOSTICS_WINDOW",
    "ESTOP_BEST_EFFORT_QOS",
    "ESTOP_QOS",
    "NodeConfig",
    "PolicyDeploymentNode",
    "run_ros2_deploy",
    "warm_up_log",
]

log = logging.getLogger(__name__)

DIAGNOSTICS_WINDOW = 1000
"""Ticks the latency percentiles of the periodic diagnostics are taken over."""
ESTOP_QOS = QosSettings(reliability="reliable", depth=10)
"""QoS of the e-stop subscription (reliable: an e-stop must not be dropped)."""
ESTOP_BEST_EFFORT_QOS = QosSettings(reliability="best_effort", depth=10)
"""QoS of the second e-stop subscription on the same topic: a reliable subscription does not match
a best-effort publisher (a joystick or teleop node repeating its e-stop often is one), whose
e-stop would be dropped without a word; a reliable publisher's is taken from the first."""


@dataclass(frozen=True)
class NodeConfig:
    """Names and rates of the deployment node's own interfaces."""

    estop_topic: str = "/sim2real/estop"
    """std_msgs/msg/Bool: True triggers the e-stop (latched until the reset service, which is refused
    while the topic's last message is True: an e-stop button publishes False when released)."""
    estop_service: str = "/sim2real/trigger_estop"
    """std_srvs/srv/Trigger: triggers the e-stop."""
    reset_service: str = "/sim2real/reset"
    """std_srvs/srv/Trigger: releases a latched safe stop when the state passes every check."""
    diagnostics_topic: str = "/diagnostics"
    """diagnostic_msgs/msg/DiagnosticArray with the safety state."""
    diagnostics_period: float = 0.5
    """Period of the diagnostics [s] (also published at once on every safety state change)."""
    startup_timeout: float = 30.0
    """How long to wait for the robot (a valid reading, then a fresh one after the warm-up) before
    failing [s]."""
    node_name: str = "sim2real_deploy"
    """Name of the node."""

    def __post_init__(self) -> None:
        if not self.diagnostics_period > 0 or not self.startup_timeout > 0:
            raise Sim2RealError("node config: diagnostics_period and startup_timeout must be positive")


class PolicyDeploymentNode(Node):
    """The deployment control loop as a ROS 2 node (see the module docstring).

    Args:
        spec: The robot.
        make_loop: Builds the control loop on the node's robot interface.
        context: The rclpy context.
        ros_config: Topics, types, QoS and joint mapping of the robot.
        config: The node's own interfaces.
        clock: The loop's clock [s].
        take_on_read: Let the robot interface take the newest messages itself at each read (only
            when the node is spun by a ``single`` or ``multi`` executor; see :class:`Ros2Robot`).
    """

    def __init__(
        self,
        spec: RobotSpec,
        make_loop: Callable[[Ros2Robot], ControlLoop],
        *,
        context: Context,
        ros_config: Ros2Config | None = None,
        config: NodeConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        take_on_read: bool = False,
    ) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.event_handler import SubscriptionEventCallbacks
        from std_msgs.msg import Bool
        from std_srvs.srv import Trigger

        self.config = config = config or NodeConfig()
        super().__init__(config.node_name, context=context)
        self.spec = spec
        self._loop_clock = clock
        self.robot = Ros2Robot(spec, ros_config, node=self, clock=clock, take_on_read=take_on_read)
        self.loop = make_loop(self.robot)
        self.monitor = self.loop.monitor
        self.period = float(spec.control_dt)
        self.timing: LoopTiming | None = None
        self.estops: list[dict[str, Any]] = []
        self._estop_pressed = False  # the e-stop topic's last value: a reset is refused while True
        self.finished = threading.Event()
        self.error: str | None = None
        self._created = clock()
        self._timer: Any = None
        self._warmed = False
        self._last_state: str | None = None
        self._stop_at: float | None = None
        self._diag_pub = self.create_publisher(DiagnosticArray, config.diagnostics_topic, 10)
        # a best-effort publisher is incompatible with the reliable subscription by design (the
        # best-effort one hears it): no rcl warning that its e-stops "will not be received"
        quiet = SubscriptionEventCallbacks(incompatible_qos=lambda _event: None)
        self._estop_subs = [
            self.create_subscription(
                Bool, config.estop_topic, self._on_estop_topic, qos.profile(), event_callbacks=callbacks
            )
            for qos, callbacks in ((ESTOP_QOS, quiet), (ESTOP_BEST_EFFORT_QOS, None))
        ]
        self._estop_srv = self.create_service(Trigger, config.estop_service, self._on_estop_service)
        self._reset_srv = self.create_service(Trigger, config.reset_service, self._on_reset_service)
        self._startup = self.create_timer(0.005, self._wait_for_robot, clock=steady_clock())
        self._diag_timer = self.create_timer(
            config.diagnostics_period, self.publish_diagnostics, clock=steady_clock()
        )

    # ------------------------------------------------------------------ lifecycle

    def run_for(self, seconds: float | None) -> None:
        """Stop ticking ``seconds`` after the control timer starts (None: until shut down)."""
        self._stop_at = None if seconds is None else float(seconds)

    @property
    def running(self) -> bool:
        """Whether the control timer runs."""
        return self._timer is not None

    def _wait_for_robot(self) -> None:
        """Startup: once a valid reading is there, warm up (which takes time the executor spends
        in this callback, not on the robot's messages); start the control timer on a reading
        fresh by half the stale timeout, so that the first tick does not see the warm-up's age."""
        if self._timer is not None:
            return
        if not self._warmed and self.robot.ready():
            self._warm_up()
            return
        max_age = 0.5 * float(self.spec.safety.stale_timeout)
        if self._warmed and self.robot.ready(max_age=max_age) and self.robot.unheard() is None:
            self.destroy_timer(self._startup)
            self._start_control()
            return
        if self._loop_clock() - self._created > self.config.startup_timeout:
            self.destroy_timer(self._startup)
            what = "fresh" if self._warmed else "valid"
            why = self.robot.not_ready(max_age if self._warmed else None)
            unheard = self.robot.unheard() if self.robot.not_ready() is None else None  # a valid reading came
            self.error = (
                f"the robot is not listening within {self.config.startup_timeout:g} s: {unheard}"
                if unheard is not None
                else f"no {what} reading from the robot on {self.robot.config.joint_states_topic} within "
                f"{self.config.startup_timeout:g} s" + (f": {why}" if why else "")
            )
            log.error("deploy node: %s", self.error)
            self.finished.set()

    def _warm_up(self) -> None:
        # first calls (serializers of the log, numpy percentiles, message conversion) happen here,
        # not in the first control ticks
        warm_up_log(self.spec)
        self.loop.open()  # the log is created (its topics declared) before the first tick, not in it
        self.timing = LoopTiming(self.period, 0.0)
        self.timing.record(0.0, 0.001)
        self.publish_diagnostics()
        quiet_gc()
        self._warmed = True

    def _start_control(self) -> None:
        self._timer = self.create_timer(self.period, self._on_tick, clock=steady_clock())
        until_next = self._timer.time_until_next_call()
        first = time.monotonic() + (until_next if until_next is not None else self.period * 1e9) * 1e-9
        self.timing = LoopTiming(self.period, first)
        if self._stop_at is not None:
            self._stop_at += first - self.period
        log.info("deploy node: robot is there; control loop at %.6g Hz", 1.0 / self.period)

    def stop_control(self) -> None:
        """Stop the control timer and send the robot to safe mode."""
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        self.loop.stop_robot(self._loop_clock())
        self.finished.set()

    # ------------------------------------------------------------------ control

    def _on_tick(self, info: Any = None) -> None:
        start = time.monotonic()
        self.loop.tick()
        end = time.monotonic()
        assert self.timing is not None
        # the EventsExecutor passes the timer's scheduled time (steady clock = time.monotonic)
        release = info.expected_call_time.nanoseconds * 1e-9 if info is not None else None
        self.timing.record(start, end, release)
        state = self.loop.state
        if state != self._last_state:
            self._last_state = state
            self.publish_diagnostics()
        if self._stop_at is not None and end >= self._stop_at:
            self.stop_control()

    # ------------------------------------------------------------------ e-stop and reset

    def estop(self, source: str) -> None:
        """Trigger the e-stop: latch the monitor and send the robot to safe mode now."""
        t = self._loop_clock()
        self.loop.request_estop(f"e-stop from {source}")
        self.loop.stop_robot(t)
        done = self._loop_clock()
        self.estops.append({"source": source, "t": t, "safe_mode_published": done})
        log.warning("deploy node: e-stop from %s", source)
        self.publish_diagnostics()

    def _on_estop_topic(self, msg: Any) -> None:
        # a reliable publisher's message arrives on both subscriptions, and e-stop publishers often
        # repeat True: one e-stop while a requested one stands (before the next tick latches it, and
        # after); once a reset clears it (by whatever path), the next True is a new e-stop
        self._estop_pressed = bool(msg.data)
        if msg.data and not self.monitor.estop_requested:
            self.estop(f"topic {self.config.estop_topic}")

    def _on_estop_service(self, request: Any, response: Any) -> Any:
        self.estop(f"service {self.config.estop_service}")
        response.success = True
        response.message = "e-stop latched; the robot is in safe mode"
        return response

    def _on_reset_service(self, request: Any, response: Any) -> Any:
        if self._estop_pressed:
            response.success = False
            response.message = (
                f"reset refused: the e-stop on {self.config.estop_topic} is still pressed (its last message "
                "was True); release it (it publishes False), then reset"
            )
            log.warning("deploy node: %s", response.message)
            return response
        result = self.loop.reset_safety()
        response.success = bool(result.accepted)
        response.message = result.event.message
        self.publish_diagnostics()
        return response

    # ------------------------------------------------------------------ diagnostics

    def diagnostics(self, final: bool = False) -> dict[str, Any]:
        """The node's state as plain values (also what /diagnostics carries).

        Args:
            final: Latency percentiles over the whole run (else over the last
                ``DIAGNOSTICS_WINDOW`` ticks, cheap enough to publish while the loop runs).
        """
        m = self.monitor
        latched = bool(m.latched)
        values: dict[str, Any] = {
            "state": self.loop.state if self.loop.ticks else "starting",
            "latched": latched,
            "latch_reason": m.latch_reason or "",
            "speed_stage": int(self.loop.speed.stage),
            "speed_fraction": float(m.speed_fraction),
            "running": self.running,
            "loop_missed_deadlines": int(self.loop.missed_deadlines),
        }
        values["events"] = {k: v for k, v in m.counters.items() if v}
        values["robot"] = self.robot.counters.as_dict()
        if self.timing is not None:
            values |= self.timing.summary(last=None if final else DIAGNOSTICS_WINDOW)
        if self.estops:
            values["estops"] = len(self.estops)
        return values

    def publish_diagnostics(self) -> None:
        """Publish the safety state on /diagnostics now."""
        from diagnostic_msgs.msg import DiagnosticArray

        values = self.diagnostics()
        if values["latched"]:
            level, message = STATUS_ERROR, f"safe stop: {values['latch_reason']}"
        elif values["state"] == "hold":
            level, message = STATUS_WARN, "holding (unusable reading or command)"
        elif not self.running:
            level, message = STATUS_WARN, "waiting for the robot"
        else:
            level, message = STATUS_HEALTHY, f"running at speed fraction {values['speed_fraction']:g}"
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [status(f"sim2real: safety ({self.spec.name})", self.spec.name, level, message, values)]
        self._diag_pub.publish(msg)


def run_ros2_deploy(
    spec: RobotSpec,
    policy_path: str | Path,
    *,
    ros_config: Ros2Config | str | Path | None = None,
    node_config: NodeConfig | None = None,
    loop_config: LoopConfig | None = None,
    speed_stage: int | float | None = None,
    log_path: str | Path | None = None,
    log_meta: Mapping[str, Any] | None = None,
    seconds: float | None = None,
    domain_id: int | None = None,
    executor: ExecutorKind = "events",
    rt_priority: int | None = None,
    make_loop: Callable[[Ros2Robot], ControlLoop] | None = None,
    on_ready: Callable[[PolicyDeploymentNode], None] | None = None,
    speed: Any = None,
    on_tick: Callable[[Any], None] | None = None,
    live: Any = None,
    observed: ObserverModel | None = None,
) -> dict[str, Any]:
    """Deploy a policy on a ROS 2 robot: what ``sim2real deploy --ros2`` runs.

    Builds the deployment node (the control loop on a ROS 2 timer, SafetyMonitor, speed
    progression, e-stop topic and service, reset service, /diagnostics, rosbag2 log), spins it
    until ``seconds`` of control have run, the robot does not show up within the startup timeout,
    or SIGINT/SIGTERM; then puts the robot in safe mode and closes the log.

    Args:
        spec: The robot.
        policy_path: The ``.onnx`` policy.
        ros_config: A Ros2Config, or a YAML file of one; None: the spec's ``ros2:`` section (defaults
            when it has none).
        node_config: The node's own topic and service names.
        loop_config: Loop settings (speed stages, velocity command, ...); its mode becomes ``paced``.
        speed_stage: Speed-progression stage index (or fraction) to start at (``--speed``).
        log_path: The run's rosbag2 directory (must not exist); None: no log.
        log_meta: Extra description stored in the log's metadata.
        seconds: Control time to run [s]; None: until interrupted.
        domain_id: ROS_DOMAIN_ID; None: from the environment.
        executor: ``events`` (default), ``single`` or ``multi``.
        rt_priority: SCHED_FIFO priority of the process (None: unchanged).
        make_loop: Builds the control loop on the robot (default: :func:`build_loop`).
        on_ready: Called with the node once it is built, before spinning.
        speed: The default loop's speed progression (e.g. the stage ledger's
            :class:`~sim2real.deploy.ledger.LedgerSpeed`); default: from ``loop_config``.
        on_tick: The default loop's per-tick callback (e.g. the ledger's recorder).
        live: The default loop's live view (:class:`~sim2real.deploy.live.LiveTelemetry`).
        observed: The default loop's collision observer model, when the caller has it already
            (:meth:`~sim2real.deploy.collision_model.ObserverModel.of_policy`); None: read from the
            policy's metadata.

    Returns:
        The node's final diagnostics (loop timing, safety state and counters, robot message counts)
        plus ``loop`` (the loop's summary) and ``estops``.

    Raises:
        Sim2RealError: the robot did not show up, or the policy does not fit the robot.
    """
    if isinstance(ros_config, str | Path):
        ros_config = Ros2Config.load(ros_config)
    if make_loop is None:
        config = loop_config or LoopConfig()
        if config.mode != "paced":
            config = dataclasses.replace(config, mode="paced")

        def make_loop(robot: Ros2Robot) -> ControlLoop:
            return build_loop(
                spec,
                robot,
                policy_path,
                config=config,
                speed_stage=speed_stage,
                log_path=log_path,
                log_meta={"transport": "ros2", **dict(log_meta or {})},
                on_tick=on_tick,
                speed=speed,
                live=live,
                observed=observed,
            )

    with node_session(domain_id, rt_priority) as (context, stop):
        node = PolicyDeploymentNode(
            spec,
            make_loop,
            context=context,
            ros_config=ros_config,
            config=node_config,
            take_on_read=executor != "events",
        )
        try:
            node.run_for(seconds)
            ex = make_executor(context, executor)
            ex.add_node(node)
            if on_ready is not None:
                on_ready(node)
            spin_until(ex, node, lambda: stop.is_set() or node.finished.is_set())
            node.stop_control()
            summary = node.diagnostics(final=True)
            summary["estops"] = list(node.estops)
        finally:
            loop_summary = node.loop.close()
            node.robot.close()
            node.destroy_node()
    if node.error:
        raise Sim2RealError(node.error)
    summary["loop"] = loop_summary
    return summary
