"""Excitation signals for system identification: chirp, PRBS and steps.

Each returns commands of shape (T, n_actions) in [-1, 1] at times ``t`` (T,) [s]; the caller
scales them to actuator units (e.g. a voltage or torque amplitude, or an angle around the
default pose).  Seeded where random.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim2real.errors import Sim2RealError

CHIRP_TOP_HZ = 5.0
"""The highest frequency the chirps sweep to [Hz]."""


def chirp(
    t: np.ndarray, n: int, f0: float = 0.2, f1: float = CHIRP_TOP_HZ, duration: float | None = None
) -> np.ndarray:
    """Linear chirp sin(2 pi (f0 t + (f1 - f0) t^2 / (2 T))) from f0 to f1 [Hz] over T seconds.

    Channels are phase-shifted by 2 pi i / n so they are not identical.
    """
    t = np.asarray(t, dtype=float)
    T = float(duration if duration is not None else max(t[-1], 1e-9))
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) * t**2 / T)
    return np.stack([np.sin(phase + 2 * np.pi * i / n) for i in range(n)], axis=1)


def prbs(t: np.ndarray, n: int, rng: np.random.Generator, hold: float = 0.1) -> np.ndarray:
    """Pseudo-random binary sequence: +-1 held for ``hold`` seconds, independent per channel."""
    t = np.asarray(t, dtype=float)
    slots = np.floor(t / hold).astype(np.int64)
    levels = rng.choice([-1.0, 1.0], size=(int(slots.max()) + 1, n))
    return levels[slots]


def steps(t: np.ndarray, n: int, rng: np.random.Generator, hold: float = 1.0) -> np.ndarray:
    """Random steps: levels ~ U(-1, 1) held for ``hold`` seconds, independent per channel."""
    t = np.asarray(t, dtype=float)
    slots = np.floor(t / hold).astype(np.int64)
    levels = rng.uniform(-1.0, 1.0, size=(int(slots.max()) + 1, n))
    return levels[slots]


def excitation(kind: str, t: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """One of the signals by name (chirp, prbs, steps); shape (T, n) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    table: dict[str, Callable[[], np.ndarray]] = {
        "chirp": lambda: chirp(t, n),
        "prbs": lambda: prbs(t, n, rng),
        "steps": lambda: steps(t, n, rng),
    }
    if kind not in table:
        raise Sim2RealError(f"unknown excitation '{kind}' (choose chirp, prbs or steps)")
    return table[kind]()
