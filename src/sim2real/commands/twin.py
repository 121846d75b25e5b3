"""``sim2real twin init --robot R --out twin.yaml``: a commented twin file with every key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import tyro

from sim2real.commands.output import emit
from sim2real.errors import Sim2RealError


def twin(
    action: Annotated[Literal["init"], tyro.conf.Positional],
    robot: str,
    out: str,
    nominal: bool = False,
    json: bool = False,
) -> int:
    """Write a twin file: the simulated robot's hidden parameter values and unmodeled effects.

    Every key the twin accepts is in the file with its unit and meaning: each named parameter of
    the robot (commented out at its nominal value, with its plausible bounds, unless set) and
    each effect (latency jitter, backlash, torque-speed saturation, encoder resolution, noise,
    bias, dropped readings, integrator and timestep) at its default.  By default the hidden
    values are the demo's: the robot's identification set away from nominal (for the furuta: a
    heavier pendulum on a worn bearing, a warm motor, a slow amplifier), all within the bounds.

    Args:
        action: What to do (init).
        robot: Embedded robot name or spec YAML path.
        out: Twin file to write (must not exist).
        nominal: Set no parameter: a twin at nominal values, with the effects only.
        json: Print a JSON summary on stdout.
    """
    from sim2real.pipeline.run import hidden_parameters
    from sim2real.real.twin import TwinConfig
    from sim2real.real.twin_template import twin_template
    from sim2real.robots import load_robot

    spec = load_robot(robot)
    path = Path(out)
    if path.exists():
        raise Sim2RealError(f"{path} exists already; choose another --out (a twin file is never overwritten)")
    hidden = {} if nominal else hidden_parameters(spec)
    text = twin_template(spec, hidden)
    try:
        path.write_text(text)
    except OSError as exc:
        raise Sim2RealError(f"cannot write {path}: {exc.strerror}") from None
    # the template is a valid twin file of this robot; its values (6 significant digits) are the twin's
    written = TwinConfig.load(path, spec).params
    summary = {
        "out": str(path),
        "robot": spec.name,
        "params": {k: v.tolist() for k, v in written.items()},
    }
    set_text = ", ".join(f"{k}={v.tolist()[0] if v.size == 1 else v.tolist()}" for k, v in written.items())
    emit(
        summary,
        json,
        f"wrote {path}: twin of {spec.name}; hidden values: {set_text or 'none (nominal)'}; "
        "every parameter and effect is listed there, with its unit",
    )
    return 0
