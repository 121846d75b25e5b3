"""``sim2real finetune --policy P LOG... --out P2``: a residual adapter learnt from deploy logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import tyro

from sim2real.commands.arguments import Count, NonNegative, NonNegativeCount, Positive, Seed
from sim2real.commands.output import emit, human, output_file
from sim2real.errors import Sim2RealError


def _summary_text(summary: dict) -> str:
    lines = [
        f"wrote {summary['path']}: base policy + residual adapter, one ONNX file "
        f"(max abs diff onnxruntime vs PyTorch {summary['max_abs_diff']:.3g})",
    ]
    if "episodes" in summary:
        lines.append(
            f"learnt from {summary['episodes']} episodes ({summary['ticks']} ticks); weighted BC loss "
            f"{summary['bc_loss_before']:.4g} -> {summary['bc_loss_after']:.4g}; correction rms "
            f"{summary['correction_rms']:.3g}, max {summary['correction_max']:.3g}"
        )
    if "rounds" in summary:
        for r in summary["rounds"]:
            lines.append(
                f"round {r['round']}: logged mean return {r['logged_mean_return']:.4g}, "
                f"{r['collection_safety_events']} safety events -> {r['policy']}"
            )
    return "\n".join(lines)


def finetune(
    logs: Annotated[list[str], tyro.conf.Positional, tyro.conf.arg(metavar="LOG")] = [],  # noqa: B006
    policy: str = "",
    out: str = "",
    robot: str | None = None,
    scale: Positive = 0.25,
    weighting: Literal["awr", "return_softmax"] = "awr",
    temperature: Positive = 1.0,
    epochs: Count = 20,
    twin: str | None = None,
    rounds: NonNegativeCount = 0,
    episodes: Count = 10,
    explore_std: NonNegative = 0.05,
    seed: Seed = 0,
    allow_out_of_bounds: bool = False,
    command_order: str = "auto",
    motor_order: tuple[str, ...] | None = None,
    json: bool = False,
) -> int:
    """Fine-tune a deployed policy from robot logs: a small residual adapter beside the frozen
    policy, trained by reward-weighted behaviour cloning; written as ONE policy file with the same
    metadata (deploy takes it unchanged) plus its provenance (base policy hash, logs used).

    Iterative mode (--twin PARAMS.yaml --rounds N): deploy on the twin with exploration noise,
    log, fine-tune, deploy the result, N times, with the safety layer on; then LOG... may be empty.

    Args:
        logs: Deploy logs (rosbag2 directories, ROS 1 .bag files or split ROS 1 recordings' folders) of the policy running on the robot.
        policy: The deployed policy file (.onnx) to start from.
        out: Output policy file (.onnx); in iterative mode a directory for logs and round files.
        robot: Robot spec (embedded name or YAML path); default: the robot named in the policy.
        scale: Largest correction of the adapter, in normalized action units (actions in [-1, 1]).
        weighting: awr (exponentiated advantages per tick) or return_softmax (per episode).
        temperature: Temperature of the weights, in standard deviations of advantage or return.
        epochs: Passes over the data.
        twin: Iterative mode: the twin's hidden parameters (YAML: params/effects).
        rounds: Iterative mode: number of deploy -> fine-tune rounds (0: fine-tune LOG... once).
        episodes: Iterative mode: twin episodes per round.
        explore_std: Iterative mode: exploration noise of the logged episodes (action units).
        seed: Seed of the fine-tuning (and of the twin episodes).
        allow_out_of_bounds: Iterative mode: accept a twin file whose values lie outside the robot's
            plausible parameter bounds.
        command_order: A deploy log recorded by another tool whose commands name no joints: which
            joint each value drives: auto (as the bag allows: the actuator order, or the
            /joint_states order where that is the actuator order), robot (the actuator order),
            states (the order of the bag's /joint_states names) or J1,J2,... (the joints, in the
            order of the values).
        motor_order: A Unitree bag (unitree_go/unitree_hg LowState and LowCmd, which name no
            joints): the joint of motor 0, 1, ... as J1,J2,... or J1 J2 ... ("-" for an unused slot; motors
            beyond the list are not read). Required for such a bag (docs/real_data.md).
        json: Print a JSON summary on stdout.
    """
    if not policy:
        raise Sim2RealError("give the deployed policy to start from: --policy P.onnx")
    if not Path(policy).is_file():
        raise Sim2RealError(f"policy file not found: {policy}")
    if not out:
        raise Sim2RealError("give the output: --out P2.onnx")
    iterative = twin is not None or rounds > 0
    if iterative and (twin is None or rounds < 1):
        raise Sim2RealError("iterative mode needs both --twin PARAMS.yaml and --rounds N (N >= 1)")
    if iterative and logs:
        raise Sim2RealError("iterative mode (--twin/--rounds) collects its own logs; do not pass LOG...")
    if iterative and motor_order is not None:
        raise Sim2RealError("iterative mode (--twin/--rounds) collects its own logs, which name their joints: drop --motor-order")
    if iterative and command_order != "auto":
        raise Sim2RealError("iterative mode (--twin/--rounds) collects its own logs, which name their command joints: drop --command-order")
    if not iterative and not logs:
        raise Sim2RealError("no logs given: pass one or more deploy logs (rosbag2 directories, ROS 1 .bag files or split ROS 1 recordings' folders)")
    missing = [log for log in logs if not Path(log).exists()]
    if missing:
        raise Sim2RealError(f"log not found: {missing[0]}")
    if not iterative:
        output_file(out, "--out")

    from sim2real.commands.train import one_torch_thread
    from sim2real.finetune.adapter import AdapterConfig

    one_torch_thread()
    from sim2real.finetune.trainer import FinetuneConfig
    from sim2real.finetune.weights import WeightConfig
    from sim2real.policy.metadata import read_metadata
    from sim2real.robots import load_robot

    metadata = read_metadata(policy)
    if robot is None:
        from sim2real.robots import EMBEDDED

        robot = metadata.robot
        if robot not in EMBEDDED:
            raise Sim2RealError(
                f"the policy was made for robot '{robot}', which is not embedded: give its spec with --robot PATH"
            )
    spec = load_robot(robot)
    config = FinetuneConfig(
        adapter=AdapterConfig(scale=scale),
        weights=WeightConfig(scheme=weighting, temperature=temperature),
        epochs=epochs,
        seed=seed,
    )
    if iterative:
        from sim2real.finetune.explore import ExplorationConfig
        from sim2real.finetune.iterate import IterateConfig, iterate
        from sim2real.real.twin import TwinConfig

        assert twin is not None
        twin_config = TwinConfig.load(twin, spec, allow_out_of_bounds=allow_out_of_bounds)
        human(
            f"iterative fine-tuning of {policy} on the {spec.name} twin: {rounds} rounds x {episodes} episodes",
            json,
        )
        result = iterate(
            policy,
            spec,
            twin_config,
            out,
            IterateConfig(
                rounds=rounds,
                episodes_per_round=episodes,
                exploration=ExplorationConfig(std=explore_std, seed=seed),
                finetune=config,
                seed=seed,
            ),
        )
        check = read_metadata(result["policy"]).export_check
        diff = max(check.get("max_abs_diff_random", 0.0), check.get("max_abs_diff_recorded", 0.0))
        summary = {"path": result["policy"], "max_abs_diff": diff, **result}
        emit(summary, json, _summary_text(summary))
        return 0

    from sim2real.finetune.pipeline import finetune_files

    human(f"fine-tuning {policy} for {spec.name} (spec {spec.hash[:12]}) from {len(logs)} log(s)", json)
    output = finetune_files(policy, logs, spec, out, config, command_order=command_order, motor_order=motor_order)
    summary = output.summary()
    emit(summary, json, _summary_text(summary))
    return 0
