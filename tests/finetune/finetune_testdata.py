"""Constants and helpers of the fine-tuning tests."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

TWIN_PARAMS = {"body.pendulum.mass": 0.026}
"""Hidden parameter of the test twin."""
EPISODE_S = 0.5
"""Length of the test episodes [s] (250 control ticks)."""


def twin_config(drop_probability: float = 0.0) -> Any:
    """The test twin: a heavier pendulum, default effects, dropped readings as given."""
    from sim2real.real.twin import TwinConfig, TwinEffects

    return TwinConfig(
        params={k: np.atleast_1d(v) for k, v in TWIN_PARAMS.items()},
        effects=dataclasses.replace(TwinEffects(), drop_probability=drop_probability),
    )
