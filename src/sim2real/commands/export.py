"""``sim2real export RUN [--out policy.onnx]``: a training run's policy as one ONNX file with metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import tyro

from sim2real.commands.output import emit, human, output_file
from sim2real.errors import Sim2RealError


def _load_policy_function() -> Any:
    """``sim2real.train``'s ``load_policy(run) -> (TransferPolicy, metadata)``."""
    import importlib
    import importlib.util

    import sim2real.train as train

    func = getattr(train, "load_policy", None)
    if func is None and importlib.util.find_spec("sim2real.train.checkpoint") is not None:
        func = getattr(importlib.import_module("sim2real.train.checkpoint"), "load_policy", None)
    if func is None:
        raise Sim2RealError(
            "this version of sim2real cannot read training runs (sim2real.train has no load_policy)"
        )
    return func


def _spec_of_run(metadata: dict[str, Any], robot: str | None) -> Any:
    from sim2real.robots import load_robot

    if robot is not None:
        return load_robot(robot)
    path = metadata.get("robot_path")
    if path and Path(path).is_file():
        return load_robot(path)
    if "robot" not in metadata:
        raise Sim2RealError("the run's metadata names no robot; give one with --robot")
    return load_robot(str(metadata["robot"]))


def export(
    run: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")],
    out: str | None = None,
    robot: str | None = None,
    json: bool = False,
) -> int:
    """Export a trained policy to ONNX (normalizer inside, deployment metadata) and check its parity.

    The file is compared with PyTorch on 10,000 random and 1,000 simulated observations; the
    export fails when they differ by more than 1e-5.

    Args:
        run: Training run directory (or its checkpoint file).
        out: Output file (default: RUN/policy.onnx).
        robot: Robot spec (embedded name or YAML path) if not the one recorded in the run.
        json: Print a JSON summary on stdout.
    """
    from sim2real.commands.train import one_torch_thread
    from sim2real.policy.export import export_policy

    if out:
        output_file(out, "--out")
    one_torch_thread()
    load_policy = _load_policy_function()
    policy, metadata = load_policy(run)
    spec = _spec_of_run(dict(metadata), robot)
    run_path = Path(run)
    target = (
        Path(out)
        if out
        else (run_path / "policy.onnx" if run_path.is_dir() else run_path.with_suffix(".onnx"))
    )
    human(f"exporting {run} for {spec.name} (spec {spec.hash[:12]}) to {target}", json)
    result = export_policy(policy, spec, target, metadata=metadata)
    summary = result.summary()
    text = (
        f"wrote {result.path} (obs {summary['n_obs']} -> action {summary['n_act']}); max abs diff "
        f"onnxruntime vs PyTorch {result.max_abs_diff:.3g} over {result.n_random} random and "
        f"{result.n_recorded} recorded observations"
    )
    emit(summary, json, text)
    return 0
