"""Helpers of the ros2 tests: the private graph's domain id, a probe node, waiting on conditions,
and a balancing furuta policy (a hand-made LQR stand-in).  Not a test module."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DOMAIN_ID = 1 + os.getpid() % 200
"""ROS_DOMAIN_ID of this test run (1..200; 0, the default domain, is never used)."""
TIMEOUT = 10.0
"""Default timeout of a wait on the graph [s]."""

_prefix = itertools.count()


def topics(**overrides: Any) -> Any:
    """A Ros2Config on topics of its own (tests share one graph; latched topics would leak)."""
    from sim2real.real.ros2 import Ros2Config

    p = f"/t{next(_prefix)}"
    base = {
        "joint_states_topic": f"{p}/joint_states",
        "imu_topic": f"{p}/imu/data",
        "base_height_topic": f"{p}/base_height",
        "command_topic": f"{p}/joint_commands",
        "safe_mode_topic": f"{p}/safe_mode",
    }
    return Ros2Config(**(base | overrides))


class Probe:
    """A node of the test process on the graph, spun in a background thread.

    ``subscribe`` records messages (with their arrival time on ``time.monotonic``); ``wait_for``
    waits until a condition holds, re-checking it at every message and every 10 ms.
    """

    def __init__(self, name: str = "sim2real_test_probe") -> None:
        from sim2real.real.ros2 import Node, make_executor, new_context

        self.context = new_context()
        self.node = Node(name, context=self.context)
        self.changed = threading.Condition()
        self.node.create_timer(0.01, self._notify)
        self.executor = make_executor(self.context, "single")
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        with contextlib.suppress(Exception):  # the executor is shut down under it
            self.executor.spin()

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def subscribe(self, msg_type: Any, topic: str, qos: Any = None) -> list[tuple[float, Any]]:
        from sim2real.real.ros2 import SENSOR_QOS

        received: list[tuple[float, Any]] = []

        def on_message(msg: Any) -> None:
            received.append((time.monotonic(), msg))
            self._notify()

        self.node.create_subscription(msg_type, topic, on_message, qos or SENSOR_QOS.profile())
        return received

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        with self.changed:
            if not self.changed.wait_for(condition, timeout):
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the probe's executor thread did not stop"


@contextlib.contextmanager
def realtime_thread(priority: int) -> Iterator[None]:
    """Run the calling thread under SCHED_FIFO for the block (unchanged where not permitted), so
    that a measurement is not delayed by the scheduler of a loaded machine."""
    try:
        before = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError, AttributeError):
        yield
        return
    try:
        yield
    finally:
        os.sched_setscheduler(0, before[0], before[1])


def latest_status(messages: list[tuple[float, Any]], prefix: str) -> dict[str, str] | None:
    """Key/values of the newest DiagnosticStatus whose name starts with ``prefix``."""
    from sim2real.real.ros2.diagnostics import diagnostic_values

    for _, msg in reversed(messages):
        for status in msg.status:
            if status.name.startswith(prefix):
                return diagnostic_values(status)
    return None


# ------------------------------------------------------------------------------ balancing stand-in


def furuta_lqr_gain(spec: Any) -> np.ndarray:
    """Gain (1, 7) of ``action = tanh(gain @ obs)`` balancing the furuta upright (discrete LQR).

    The plant is linearized about upright by finite differences of one control step of the
    nominal twin (no noise); the state is augmented with the runtime's action filter state
    ``a_f`` (the observation's last_action), so u = -K [theta, alpha, theta_dot, alpha_dot, a_f].
    On the observation terms near upright: sin q ~ q, joint_vel is scaled by its term scale.
    """
    import scipy.linalg

    from sim2real.policy.metadata import PolicyMetadata
    from sim2real.real.protocol import Command
    from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
    from sim2real.tasks import get_task

    quiet = TwinEffects(
        latency_jitter=0.0,
        backlash=0.0,
        position_noise=0.0,
        velocity_noise=0.0,
        gyro_noise=0.0,
        drop_probability=0.0,
        encoder_resolution=0.0,
    )
    twin = TwinRobot(spec, TwinConfig(effects=quiet))

    def step(x: np.ndarray, u: float) -> np.ndarray:
        twin.reset(x[:2], x[2:])
        twin.write(Command(t=0.0, values=[u]))
        reading = twin.read()  # exact: no noise, no quantization, no drops
        return np.r_[reading.q, reading.qd]

    eps = 1e-5
    A = np.column_stack([(step(e, 0.0) - step(-e, 0.0)) / (2 * eps) for e in np.eye(4) * eps])
    B = ((step(np.zeros(4), eps) - step(np.zeros(4), -eps)) / (2 * eps))[:, None]
    task = get_task("furuta")
    alpha, scale = task.action_filter, task.action_scale[0]
    # z = [x, a_f_prev], input a:  a_f = alpha a + (1 - alpha) a_f_prev,  u = scale a_f
    Az = np.zeros((5, 5))
    Az[:4, :4] = A
    Az[:4, 4:] = B * scale * (1 - alpha)
    Az[4, 4] = 1 - alpha
    Bz = np.vstack([B * scale * alpha, [[alpha]]])
    Q = np.diag([5.0, 20.0, 0.05, 0.2, 0.0])
    R = np.array([[200.0]])
    P = scipy.linalg.solve_discrete_are(Az, Bz, Q, R)
    K = np.linalg.solve(R + Bz.T @ P @ Bz, Bz.T @ P @ Az)[0]
    meta = PolicyMetadata.from_spec(spec, action_scale=task.action_scale, action_filter=alpha)
    names = [t.name for t in meta.observation]
    assert names == ["joint_pos_sincos", "joint_vel", "last_action"], names
    vel_scale = meta.observation[1].scale
    # obs = [sin th, cos th, sin al, cos al, s*th_dot, s*al_dot, a_f]
    return np.array([[-K[0], 0.0, -K[1], 0.0, -K[2] / vel_scale, -K[3] / vel_scale, -K[4]]])
