"""``sim2real robots`` and ``sim2real params``."""

from __future__ import annotations

from typing import Annotated

import tyro

from sim2real.commands.output import emit


def robots(json: bool = False) -> int:
    """List the embedded robots (name, nq, nv, nu, control period, substeps, task kind).

    Args:
        json: Print a JSON summary on stdout.
    """
    from sim2real.robots import list_robots, load_robot
    from sim2real.robots.model import build_model

    rows = []
    for name in list_robots():
        spec = load_robot(name)
        model = build_model(spec)
        rows.append(
            {
                "name": name,
                "nq": int(model.nq),
                "nv": int(model.nv),
                "nu": int(model.nu),
                "control_dt": spec.control_dt,
                "substeps": spec.substeps,
                "hash": spec.hash[:12],
                "task": None if spec.task is None else spec.task.kind,
            }
        )
    text = "\n".join(
        f"{r['name']:<10} nq={r['nq']:<3} nv={r['nv']:<3} nu={r['nu']:<3} "
        f"control {1 / r['control_dt']:.0f} Hz x {r['substeps']} substeps  task {r['task'] or '-':<10} "
        f"spec {r['hash']}"
        for r in rows
    )
    emit({"robots": rows}, json, None if json else text)
    return 0


def params(
    robot: Annotated[str, tyro.conf.arg(help="embedded robot name or spec YAML path")], json: bool = False
) -> int:
    """List a robot's named physical parameters with nominal values, plausible bounds and units.

    Args:
        robot: Embedded robot name or spec YAML path.
        json: Print a JSON summary on stdout.
    """
    from sim2real.params import Parameters
    from sim2real.robots import load_robot
    from sim2real.robots.model import build_model

    spec = load_robot(robot)
    rows = Parameters(spec, build_model(spec)).describe()

    def fmt(v: object) -> str:
        return ", ".join(f"{x:.4g}" for x in v) if isinstance(v, list) else f"{v:.4g}"

    head = f"{'parameter':<36} {'nominal':>22}  [plausible low .. high] unit"
    text = "\n".join(
        [f"{spec.name} (spec {spec.hash[:12]}): {len(rows)} named parameters, absolute SI values", head]
        + [
            f"{r['name']:<36} {fmt(r['nominal']):>22}  [{fmt(r['low'])} .. {fmt(r['high'])}] {r['unit']}"
            for r in rows
        ]
    )
    emit({"robot": spec.name, "params": rows}, json, None if json else text)
    return 0
