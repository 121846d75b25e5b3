"""System identification from robot logs: windowed trajectory matching, delays, motor models,
calibration files.

``identify(spec, logs, params)`` fits named parameters (:mod:`sim2real.params`) to logs and returns
values with confidence intervals (or why the logs cannot determine them); ``calibrated_model(spec,
calib)`` gives the compiled model with calibrated values for training, the twin and gap
measurement.

================  ==================================================================================
module            owns
================  ==================================================================================
identify          windowed trajectory matching with confidence intervals
problem           the identification problem: residuals of replay windows, scaled coordinates,
                  Jacobians, the solve
intervals         confidence intervals that hold, and the parameters the logs cannot determine
resolution        the simulator's own model error: how the fitted values move when the replay's step
                  is halved
reporting         the last stage of :func:`identify`: the :class:`Identification` of a fitted
                  problem
result            :class:`ParamEstimate`, :class:`LogReport`, :class:`Identification`: what an
                  identification returns
multistart        multi-start identification: seeded start points, the best fit, the spread
delay             actuation delay by cross-correlation
motor             motor models of torque-sensing robots
actuator_data     torque samples of drives from logs; the drive and ridge models they are compared with
actuator_fit      actuator networks fitted to logs (torch), exported to ONNX
synthetic         synthetic identification logs with known parameters
================  ==================================================================================

Calibration files (:class:`Calibration`, :func:`calibrated_model`) are the base module
:mod:`sim2real.calibration`; this package re-exports them.
"""

from sim2real.calibration import (
    CalibratedParam,
    Calibration,
    calibrated_model,
    load_calibration,
    save_calibration,
)
from sim2real.sysid.delay import DelayEstimate, estimate_delay
from sim2real.sysid.identify import (
    DEFAULT_PARAMS,
    Identification,
    IdentifyConfig,
    LogReport,
    ParamEstimate,
    default_params,
    identify,
)
from sim2real.sysid.motor import MotorModel, fit_motor_models

__all__ = [
    "DEFAULT_PARAMS",
    "CalibratedParam",
    "Calibration",
    "DelayEstimate",
    "Identification",
    "IdentifyConfig",
    "LogReport",
    "MotorModel",
    "ParamEstimate",
    "calibrated_model",
    "default_params",
    "estimate_delay",
    "fit_motor_models",
    "identify",
    "load_calibration",
    "save_calibration",
]
