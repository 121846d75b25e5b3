"""Sensor models over batched readings: bias, white noise, quantization, dropped readings.

The noise-free (and natively delayed) values come from MuJoCo's sensors; per-simulation bias and
noise standard deviation are model fields (``sensor_user[:, 0]`` and ``sensor_noise``, written
through the parameter names ``sensor.<name>.bias`` / ``.noise``), so randomization, the twin and
identification all change them the same way.  A per-simulation drop probability
(:attr:`SensorReader.drop_prob`) makes a reading repeat the previous one, as a lost message does.
"""

from __future__ import annotations

import numpy as np

from sim2real.sim.batch import BatchSim


def quantize(x: np.ndarray, step: float | np.ndarray) -> np.ndarray:
    """Round to the nearest multiple of ``step`` (no-op where step is 0). Any shape."""
    step = np.asarray(step, dtype=float)
    safe = np.where(step > 0, step, 1.0)
    return np.where(step > 0, np.round(x / safe) * safe, x)


def corrupt(
    clean: np.ndarray,
    bias: np.ndarray,
    noise_std: np.ndarray,
    rng: np.random.Generator,
    resolution: float = 0.0,
) -> np.ndarray:
    """A sensor reading: clean value + bias + white noise, then quantization.

    Args:
        clean: Shape (N, dim), noise-free values.
        bias: Shape (N, 1) or (N, dim), additive bias.
        noise_std: Shape (N, 1) or (N, dim), standard deviation of the white noise.
        rng: Seeded generator.
        resolution: Quantization step (0: none).

    Returns:
        Shape (N, dim).
    """
    noisy = clean + bias + noise_std * rng.standard_normal(clean.shape)
    return quantize(noisy, resolution) if resolution > 0 else noisy


def noise_std_from_density(density: np.ndarray | float, dt: float) -> np.ndarray:
    """Per-sample standard deviation of white noise of a given density sampled every dt seconds."""
    return np.asarray(density, dtype=float) / np.sqrt(dt)


class SensorReader:
    """Reads the robot's sensors from a :class:`BatchSim` the way the real sensors would report them.

    Args:
        sim: The batched simulation.
        rng: Seeded generator for the noise.
    """

    def __init__(self, sim: BatchSim, rng: np.random.Generator) -> None:
        self.sim = sim
        self.rng = rng
        self._ids = {name: i for i, name in enumerate(self._names(sim))}
        self.drop_prob: np.ndarray | None = None
        """Per-simulation probability (N,) that a reading is dropped and the previous one held; None: never."""
        self._held: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def forget(self, ids: np.ndarray) -> None:
        """Discard the held readings of some simulations (new episodes: their next readings are fresh)."""
        for _, valid in self._held.values():
            valid[ids] = False

    def _hold(self, key: str, value: np.ndarray) -> np.ndarray:
        """Replace the dropped rows of a reading by the previous reading (when there is one)."""
        if self.drop_prob is None:
            return value
        held = self._held.get(key)
        if held is None:
            held = (value.copy(), np.ones(value.shape[0], dtype=bool))
            self._held[key] = held
            return value
        last, valid = held
        drop = (self.rng.random(value.shape[0]) < self.drop_prob) & valid
        value[drop] = last[drop]
        last[:] = value
        valid[:] = True
        return value

    @staticmethod
    def _names(sim: BatchSim) -> list[str]:
        import mujoco

        return [mujoco.mj_id2name(sim.model, mujoco.mjtObj.mjOBJ_SENSOR, i) for i in range(sim.model.nsensor)]

    def _field(self, name: str, field: str) -> np.ndarray:
        """Per-simulation bias (N, dim) or noise std (N, 1) of a sensor."""
        sid = self._ids[name]
        dim = int(self.sim.model.sensor_dim[sid])
        arr = self.sim.batch.expanded(field)
        if arr is None:
            arr = getattr(self.sim.model, field)[None]
        if field == "sensor_user":
            return np.asarray(arr[:, sid, :dim], dtype=float)
        return np.asarray(arr[:, sid], dtype=float).reshape(-1, 1)

    def _corrupted(self, name: str, resolution: float = 0.0) -> np.ndarray:
        clean = self.sim.sensor(name)
        return corrupt(
            clean, self._field(name, "sensor_user"), self._field(name, "sensor_noise"), self.rng, resolution
        )

    def read(self, name: str, resolution: float = 0.0) -> np.ndarray:
        """One sensor's readings, shape (N, dim): MuJoCo value + bias + noise (+ quantization).

        With :attr:`drop_prob` set, each simulation's reading is dropped with that probability
        and the previous reading of this sensor is returned instead.
        """
        return self._hold(name, self._corrupted(name, resolution))

    def joints(self) -> tuple[np.ndarray, np.ndarray]:
        """Encoder readings of every policy joint: positions (N, n) [rad] and velocities (N, n) [rad/s].

        The joint readings travel in one message: a dropped message holds all of them.
        """
        spec = self.sim.spec
        q = np.hstack(
            [self._corrupted(spec.sensor_name(f"{j}.pos"), spec.encoder.resolution) for j in spec.joints]
        )
        qd = np.hstack([self._corrupted(spec.sensor_name(f"{j}.vel")) for j in spec.joints])
        if self.drop_prob is None:
            return q, qd
        both = self._hold("joints", np.hstack([q, qd]))
        n = spec.n_joints
        return both[:, :n], both[:, n:]
