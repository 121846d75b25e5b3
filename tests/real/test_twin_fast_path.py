"""The twin's fine step gives the very same bits as its straightforward form.

:class:`ReferenceTwin` keeps the fine step, the control and the torque as they were written before the
per-run constants, cached views and direct ufunc calls of :class:`TwinRobot` (numpy's ``np.clip``,
``np.any`` each step, a lookup of every value).  Both twins run the same commands from the same seed,
and every reading, the true state, the controls and the friction losses must be equal byte for byte
(signed zeros and NaNs included) after every tick, through latency with jitter, backlash,
torque-speed saturation, Stribeck friction, flipped motors, a delayed stop, safe mode, the model's own
actuators, actuator networks, non-finite states and a diverging simulation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim2real.errors import SimulationError
from sim2real.real.protocol import Command, Reading
from sim2real.real.twin import TwinConfig, TwinEffects, TwinRobot
from sim2real.robots import load_robot
from sim2real.robots.actuation import implied_torque
from sim2real.robots.friction import stribeck_friction
from sim2real.sim.divergence import checked_step


class ReferenceTwin(TwinRobot):
    """The twin with the fine step as written before it was made faster (the reference of its results)."""

    def _fine_step(self) -> None:
        d = self.data
        if self._stop_at is not None and d.time + 1e-12 >= self._stop_at:
            self._stop_at = None
            self.safe = True
            self._pending.clear()
        h = float(self.model.opt.timestep)
        while self._pending and self._pending[0][0] <= d.time + 1e-12:
            _, self._active, _ = self._pending.popleft()
            self.safe = False
        for drives, cols in self._nets:
            self._net_tau[cols] = drives.torque(np.zeros(1, dtype=np.int64), self._net_sample(cols))[0]
        tau = self._control(0.5 * h)
        if self._pending and self._pending[0][0] < d.time + h - 1e-12:
            due = self._pending[0][0]
            while self._pending and self._pending[0][0] < d.time + h - 1e-12:
                _, self._active, _ = self._pending.popleft()
            self.safe = False
            share = (d.time + h - due) / h
            tau = (1.0 - share) * tau + share * self._control(0.5 * h)
        d.ctrl[self._ctrl_idx] = tau
        stribeck, velocity = self._stribeck
        if np.any(stribeck > 0):
            qd = d.qvel[self._dof_idx]
            self.model.dof_frictionloss[self._dof_idx] = self._frictionloss + stribeck_friction(
                qd, stribeck, velocity
            )
        checked_step(self.model, d, self._divergence_hint)

    def _control(self, ahead: float = 0.0) -> np.ndarray:
        if self.config.effects.explicit_actuators or self.safe:
            if self._coefficients != "torque":
                self._torque_inputs()
            return self._torque(ahead)
        if self._coefficients != "own":
            self._own_actuators()
        ctrl = self._active.copy()
        for _, cols in self._nets:
            ctrl[cols] = self._net_tau[cols]
        return ctrl

    def _torque(self, ahead: float = 0.0) -> np.ndarray:
        d = self.data
        q = d.qpos[self._act_qpos] + ahead * d.qvel[self._act_dof]
        qd = d.qvel[self._act_dof] + ahead * d.qacc[self._act_dof]
        if self.safe:
            if self.spec.safety.safe_mode == "damping":
                return np.clip(-self._safe_damping * qd, -self._limit, self._limit)
            return np.zeros_like(qd)
        tau = implied_torque(self._actuation, self._active, q, qd, self.config.effects.backlash)
        speed_factor = np.clip(1.0 - np.abs(qd) / self.config.effects.no_load_speed, 0.0, 1.0)
        limit = self._limit * speed_factor
        for _, cols in self._nets:
            tau[cols] = self._actuation.strength[cols] * self._net_tau[cols]
            limit[cols] = self._limit[cols]
        return self._flip * np.clip(tau, -limit, limit)


FIELDS = ("t", "q", "qd", "tau", "gyro", "accel", "quat", "base_height", "base_lin_vel", "valid")


def _bits(value: object) -> bytes | None:
    return None if value is None else np.asarray(value, dtype=np.float64).tobytes()


def snapshot(twin: TwinRobot, reading: Reading) -> dict[str, bytes | None]:
    """Every value a run shows, as raw bytes: the reading, the true state, controls and friction losses."""
    d, m = twin.data, twin.model
    out = {f"reading.{name}": _bits(getattr(reading, name)) for name in FIELDS}
    for name in ("qpos", "qvel", "qacc", "ctrl", "actuator_force", "sensordata"):
        out[f"data.{name}"] = getattr(d, name).tobytes()
    out["data.time"] = _bits(d.time)
    out["model.dof_frictionloss"] = m.dof_frictionloss.tobytes()
    out["model.actuator_gainprm"] = m.actuator_gainprm.tobytes()
    out["twin.safe"] = bytes([twin.safe])
    if twin.read_base is not None:
        out["read_base"] = _bits(
            np.concatenate([twin.read_base.position, twin.read_base.quat, twin.read_base.lin_vel])
        )
    return out


def both(spec, config: TwinConfig, **kwargs) -> tuple[TwinRobot, TwinRobot]:
    return TwinRobot(spec, config, **kwargs), ReferenceTwin(spec, config, **kwargs)


def drive(fast: TwinRobot, slow: TwinRobot, script) -> int:
    """Run ``script(twin, tick) -> Command | None`` (None: stop()) on both; compare after each tick."""
    ticks = 0
    for tick, command in enumerate(script):
        for twin in (fast, slow):
            if command is None:
                twin.stop()
            else:
                twin.write(command)
        a, b = snapshot(fast, fast.read()), snapshot(slow, slow.read())
        differ = [k for k in a if a[k] != b[k]]
        assert not differ, f"tick {tick}: {differ}"
        ticks += 1
    return ticks


def chirp(spec, ticks: int, amplitude: float, *, safe_at=(), stop_at=(), hold_at=()):
    base = np.array(
        [spec.default_pose[spec.joints.index(a.joint)] if a.model == "pd" else 0.0 for a in spec.actuators]
    )
    for k in range(ticks):
        t = k * spec.control_dt
        values = base + amplitude * np.sin(2 * np.pi * (0.5 + 2.0 * t) * t + np.arange(spec.n_actions))
        if k in stop_at:
            yield None
        elif k in safe_at:
            yield Command(t=t, values=values, mode="safe")
        else:
            yield Command(t=t, values=values, mode="hold" if k in hold_at else "normal")


class TestSameBits:
    def test_pendulum_with_stribeck_saturation_jitter_and_drops(self, pendulum):
        params = {
            "joint.hinge.stribeck": np.array([0.05]),
            "joint.hinge.stribeck_velocity": np.array([0.5]),
            "actuator.motor.delay": np.array([0.0031]),
        }
        fx = TwinEffects(
            seed=5, no_load_speed=2.0, drop_probability=0.05, position_bias=0.001, latency_jitter=0.002
        )
        fast, slow = both(pendulum, TwinConfig(params, fx), initial_qpos=np.array([0.4]))
        assert (
            drive(fast, slow, chirp(pendulum, 300, 1.5, safe_at=range(120, 135), hold_at=range(140, 150)))
            == 300
        )

    def test_furuta_with_a_flipped_motor_a_delayed_stop_and_zero_torque_safe_mode(self, furuta):
        params = {"joint.arm.stribeck": np.array([0.002]), "actuator.motor.delay": np.array([0.002])}
        fx = TwinEffects(
            seed=3, no_load_speed=20.0, flip_sign=("arm",), stop_delay=0.005, drop_probability=0.02
        )
        fast, slow = both(furuta, TwinConfig(params, fx))
        assert furuta.safety.safe_mode != "damping"
        assert drive(fast, slow, chirp(furuta, 400, 4.0, stop_at=(150, 151), safe_at=range(300, 310))) == 400

    def test_floating_quadruped_with_backlash_and_damping_safe_mode(self, quadruped):
        fx = TwinEffects(seed=7, no_load_speed=8.0, backlash=0.01, drop_probability=0.02)
        params = {"joint.*.stribeck": np.array([0.2])}
        fast, slow = both(quadruped, TwinConfig(params, fx))
        assert drive(fast, slow, chirp(quadruped, 60, 0.4, safe_at=range(40, 45))) == 60

    def test_the_models_own_actuators_and_safe_mode_in_between(self, quadruped):
        fx = dataclasses.replace(TwinEffects.none(), seed=1, explicit_actuators=False, position_noise=0.001)
        fast, slow = both(quadruped, TwinConfig({}, fx), fixed_base=True)
        assert drive(fast, slow, chirp(quadruped, 40, 0.3, stop_at=(15,), safe_at=(25, 26))) == 40

    @pytest.mark.parametrize("explicit", [True, False], ids=["explicit_actuators", "model_actuators"])
    def test_an_actuator_network_twin(self, quadruped, tmp_path, explicit):
        from net_testdata import linear_net
        from sim2real.sim.net_actuator import with_actuator_net

        path = linear_net(
            tmp_path / "pd.onnx", {"g": quadruped.actuated_joints}, [25.0, -0.5], dt=quadruped.control_dt
        )
        spec = with_actuator_net(quadruped, path)
        fx = dataclasses.replace(TwinEffects(seed=4), explicit_actuators=explicit)
        fast, slow = both(spec, TwinConfig({}, fx), fixed_base=True)
        assert drive(fast, slow, chirp(spec, 20, 0.3, safe_at=(12,))) == 20


class TestNonFinite:
    def test_a_nan_velocity_reads_the_same_nan_torque(self, pendulum):
        fast, slow = both(pendulum, TwinConfig({}, TwinEffects(seed=2, no_load_speed=5.0)))
        for twin in (fast, slow):
            twin.set_state(joint_vel={"hinge": float("nan")})
        a, b = fast.read(), slow.read()
        assert np.isnan(a.tau[0]) and a.tau.tobytes() == b.tau.tobytes()

    @pytest.mark.parametrize(
        ("robot", "joint", "speed"),
        [("pendulum", "hinge", 9e9), ("furuta", "arm", 1e6), ("furuta", "pendulum", 1e6), ("pendulum", "hinge", 1e12)],
        ids=["pendulum-diverges", "furuta-diverges", "furuta-reset-on-velocity", "pendulum-reset-on-velocity"],
    )
    def test_a_diverging_twin_ends_the_same_way(self, robot, joint, speed):
        """The same error line and the same state left (MuJoCo's reset for bad accelerations, and for
        bad velocities or positions: every reset is an error, sim2real.sim.divergence)."""
        spec = load_robot(robot)
        fast, slow = both(spec, TwinConfig({}, TwinEffects(seed=2)))
        ends = []
        for twin in (fast, slow):
            twin.set_state(joint_vel={joint: speed})
            try:
                twin.write(Command(t=twin.now(), values=[0.0]))
                error = None
            except SimulationError as exc:
                error = str(exc)
            ends.append(
                (
                    error,
                    twin.data.time,
                    twin.data.qpos.tobytes(),
                    twin.data.qvel.tobytes(),
                    twin.data.ctrl.tobytes(),
                )
            )
        assert ends[0] == ends[1]
        assert ends[0][0] is not None and "diverged" in ends[0][0]
