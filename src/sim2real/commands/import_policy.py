"""``sim2real import legged-gym|isaaclab``: a policy trained elsewhere as sim2real's artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import tyro

from sim2real.commands.arguments import Positive, Seed
from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError


def import_policy(
    framework: Annotated[Literal["legged-gym", "isaaclab"], tyro.conf.Positional],
    policy: str,
    model: str,
    out: str,
    config: str | None = None,
    deploy: str | None = None,
    joints: str | None = None,
    motor_order: tuple[str, ...] | None = None,
    action_joints: str | None = None,
    armature: tuple[str, ...] | None = None,
    torque_limit: tuple[str, ...] | None = None,
    physics_dt: Positive | None = None,
    activation: str | None = None,
    name: str | None = None,
    seed: Seed = 0,
    json: bool = False,
) -> int:
    """Import a policy trained in another framework: write OUT/robot.yaml and OUT/policy.onnx.

    legged-gym: a legged_gym / unitree_rl_gym TorchScript policy (--policy motion.pt) or rsl_rl
    training checkpoint (--policy logs/<exp>/<run>/model_1500.pt) and its MuJoCo deploy config (--config deploy.yaml: kps, kds, default_angles, scales, num_obs, ...).
    isaaclab: an Isaac Lab / unitree_rl_lab / mjlab export (--policy exported/policy.onnx, with its
    .onnx.data when there is one, Isaac Lab's TorchScript exported/policy.pt, or the run's rsl_rl
    checkpoint model_<N>.pt, its actor rebuilt from the weights) and its
    params/deploy.yaml (with params/agent.yaml's clip_actions when it is there) or Isaac Lab's own params/env.yaml
    (--deploy; found next to an exported/ folder when not given), or an mjlab ONNX that carries
    its own metadata.  The spec is written with robot init's machinery from the unedited
    --model (actuators added where the model has none); the policy's joint order, gains, default
    pose, action mapping and observation layout (history, clip, gait clock) become spec and
    metadata; the imported graph is checked against the original on recorded observations.

    Args:
        framework: legged-gym or isaaclab.
        policy: The policy file: TorchScript .pt or rsl_rl's training checkpoint model_<N>.pt (either
            subcommand), .onnx (isaaclab).
        model: The robot's MJCF (a scene including it is fine), unedited.
        out: Output folder (robot.yaml, policy.onnx, randomize_default.yaml): new, or without robot.yaml
            and policy.onnx; a failed import leaves nothing of its own there.
        config: legged-gym: the MuJoCo deploy config YAML.
        deploy: isaaclab: params/deploy.yaml or params/env.yaml (default: the run's, next to
            exported/; not needed for an mjlab ONNX with metadata).
        joints: Regular expression of the policy joints (legged-gym; default the model's first num_actions)
            or of the robot's motors (isaaclab; default every hinge joint of the model).
        motor_order: isaaclab: the robot's joints by motor slot (what joint_ids_map indexes; - for a
            slot without a joint, as an H1's motor 9); default the deploy.yaml's joint_names, else
            the model's joints in the order the import chooses (printed).
        action_joints: isaaclab: regular expression of the policy joints the action drives (matched in
            full; the others are held at their default position by their PD), for an mjlab ONNX whose
            metadata names every joint but not the action's; default the deploy.yaml's action
            joint_ids, else every joint.
        armature: Joint armature to set on the policy joints [kg m^2]: one value for every joint, or
            JOINT_REGEX=VALUE items (the last matching item wins; other joints keep the training
            config's, else the model's), like robot init's --kp.
        torque_limit: Effort limit [N m], like --armature: replaces the policy's trained one
            (env.yaml) and the model's, printed.
        physics_dt: isaaclab: largest physics timestep [s] (default env.yaml's sim.dt, else step_dt / 4).
        activation: rsl_rl's activation of a checkpoint's actor (elu, selu, relu, celu, lrelu, tanh,
            sigmoid, softplus, gelu, swish, mish, identity); default the run's params/agent.yaml next to
            the checkpoint, else elu (legged_gym's default, printed as assumed).
        name: Robot name (default: the model's).
        seed: Seed of the parity check's rollout.
        json: Print a JSON summary on stdout.
    """
    for option, path in (("--policy", policy), ("--model", model), ("--config", config), ("--deploy", deploy)):
        if path is not None and not Path(path).is_file():
            what = "is a folder, not a file" if Path(path).is_dir() else "does not exist"
            raise Sim2RealError(f"{option} {path} {what}; give the path of the file")
    from sim2real.policy.imports.common import check_out

    check_out(out)
    human(f"importing the {framework} policy {policy} onto {model}", json)
    from sim2real.commands.robot import per_joint_arg

    armature_map, torque_map = per_joint_arg(armature, "armature"), per_joint_arg(torque_limit, "torque-limit", positive=True)
    if framework == "legged-gym":
        if config is None:
            raise Sim2RealError("import legged-gym needs --config (the MuJoCo deploy config YAML)")
        if deploy is not None or motor_order is not None or physics_dt is not None or action_joints is not None:
            raise Sim2RealError("--deploy, --motor-order, --action-joints and --physics-dt belong to import isaaclab")
        from sim2real.policy.imports.legged_gym import import_legged_gym

        result = import_legged_gym(
            policy,
            config,
            model,
            out,
            joints=joints,
            armature=armature_map,
            torque_limit=torque_map,
            activation=activation,
            name=name,
            seed=seed,
        )
    else:
        if config is not None:
            raise Sim2RealError(
                "import isaaclab takes --deploy params/deploy.yaml (--config is for legged-gym)"
            )
        from sim2real.policy.imports.isaaclab import import_isaaclab

        result = import_isaaclab(
            policy,
            deploy,
            model,
            out,
            joints=joints,
            motor_order=motor_order,
            action_joints=action_joints,
            armature=armature_map,
            torque_limit=torque_map,
            physics_dt=physics_dt,
            activation=activation,
            name=name,
            seed=seed,
        )
    summary = result.summary()
    meta = result.metadata
    lines = [
        f"wrote {result.spec.path} (robot {result.spec.name}, spec {result.spec.hash[:12]}) and {result.policy}",
        f"policy: {meta.n_obs} observations -> {meta.n_act} actions every {1e3 * meta.control_dt:g} ms"
        + (", recurrent" if meta.recurrent else ""),
        "observation: "
        + " + ".join(
            f"{t.name} {t.size}" + (f"x{t.history}" if t.history > 1 else "") for t in meta.observation
        )
        + (f", {meta.frame_stack} frames stacked (zeros after a reset)" if meta.frame_stack > 1 else ""),
        f"parity with the original: max |diff| {result.max_abs_diff:.2g} over {result.n_recorded} recorded and "
        f"{result.n_random} random observations",
        *result.notes,
        "check:",
        *(f"  - {x}" for x in result.init.check),
        "sim2real changes the model (recorded in the spec's overrides):",
        *(f"  - {o}" for o in result.spec.overrides),
        f"next: sim2real sim2sim --robot {result.spec.path} --policy {result.policy} --velocity-command 0.5 0 0 --check",
    ]

    emit(summary, json, "\n".join(lines))
    return 0
