"""``sim2real actuator fit|eval``: actuator networks learned from logs with measured torque."""

from __future__ import annotations

from typing import Annotated, Literal

import tyro

from sim2real.commands.arguments import Count, Fraction, Positive, Seed
from sim2real.commands.output import emit, human, output_file
from sim2real.errors import Sim2RealError


def _table(figures: dict, joints: list[str]) -> str:
    """Per-joint torque RMSE of the three models, as text."""
    net, pd, ridge = (figures[k] for k in ("net_torque_rmse", "pd_torque_rmse", "ridge_torque_rmse"))
    joints = [j for j in joints if j in net]  # a joint without measured effort is left out of the figures
    width = max(len(j) for j in [*joints, "overall"])
    lines = [f"{'joint':<{width}}  {'network':>9}  {'drive model':>11}  {'ridge':>9}   [N m RMSE]"]
    for j in [*joints, "overall"]:
        lines.append(f"{j:<{width}}  {net[j]:9.4f}  {pd[j]:11.4f}  {ridge[j]:9.4f}")
    ratio = net["overall"] / max(pd["overall"], 1e-12)
    lines.append(f"network / drive model: {ratio:.2f}")
    return "\n".join(lines)


def actuator(
    action: Annotated[Literal["fit", "eval"], tyro.conf.Positional],
    logs: Annotated[tuple[str, ...], tyro.conf.Positional, tyro.conf.arg(metavar="LOG")],
    robot: str,
    out: str | None = None,
    net: str | None = None,
    kind: Literal["mlp", "gru"] = "mlp",
    group: tuple[str, ...] = (),
    calib: str | None = None,
    history: Count = 3,
    dt: Positive | None = None,
    epochs: Count = 200,
    validation: Fraction = 0.2,
    torque_constant: Positive | None = None,
    csv_map: str | None = None,
    topic: tuple[str, ...] = (),
    command_order: str = "auto",
    motor_order: tuple[str, ...] | None = None,
    seed: Seed = 0,
    json: bool = False,
) -> int:
    """Learn a robot's drives from logs with measured torque (fit), or score a network on any log (eval).

    ``fit`` trains one network per group of joints that share a drive on the history of their
    position error (or command) and velocity, holds out the end of every log for early stopping,
    writes an ONNX file (runs in onnxruntime; use it in a spec as ``model: net``) and prints its
    validation torque RMSE next to the identified drive model's (PD, or DC motor) and the ridge
    motor model's on the same samples.  ``eval`` prints ``net_torque_rmse``, ``pd_torque_rmse``
    and ``ridge_torque_rmse`` per joint and overall on the logs given.

    Args:
        action: fit (write --out) or eval (read --net).
        logs: rosbag2 directories (split or compressed too), .mcap/.db3 files, ROS 1 .bag files or a split ROS 1
            recording's folder, or CSV files (with --csv-map), with measured effort.
        robot: Embedded robot name or spec YAML path (the robot of the logs).
        out: fit: the ONNX file to write.
        net: eval: the ONNX file to score.
        kind: fit: mlp (history window, Hwangbo et al.) or gru (recurrent state).
        group: fit: a regular expression of joints sharing a drive, one per group (every
            actuated joint in exactly one); default: one group per drive model and torque limit.
        calib: The identified drive model to compare with (a calibration of `identify`, e.g.
            `identify --fixed-base` on the same logs); default: the spec's nominal one (fit) or
            the one stored in the network (eval).
        history: fit: samples of each input the MLP sees.
        dt: fit: their spacing [s] (default: the logs' sample period).
        epochs: fit: most passes over the data (early stop on the held-out share).
        validation: fit: share of every log, at its end, held out.
        torque_constant: The logs' effort column is motor current [A]: torque = this x current [N m/A].
        csv_map: Column map of CSV logs: pendulum (DFKI pendulum), qube (Quanser QUBE-Servo 2),
            or a YAML column map file of the log's columns (docs/real_data.md).
        topic: A bag of another recorder: the topic of a role where the bag lacks sim2real's name
            and more than one topic could hold it, as ROLE=TOPIC (roles: joint_states, commands,
            imu, base: odometry), e.g. commands=/forward_position_controller/commands;
            joint_states=T1,T2 joins joint states published per leg or bus.
        command_order: A bag of another recorder whose commands name no joints: which joint each
            value drives: auto (as the bag allows: the actuator order, or the /joint_states order
            where that is the actuator order), robot (the actuator order), states (the order of the
            bag's /joint_states names) or J1,J2,... (the joints, in the order of the values).
        motor_order: A Unitree bag (unitree_go/unitree_hg LowState and LowCmd, which name no
            joints): the joint of motor 0, 1, ... as J1,J2,... or J1 J2 ... ("-" for an unused slot; motors
            beyond the list are not read). Required for such a bag (docs/real_data.md).
        seed: fit: seed of the initialization and the batches.
        json: Print a JSON summary on stdout.
    """
    from sim2real.gap.io import load_logs
    from sim2real.robots import load_robot
    from sim2real.sysid.actuator_data import drive_model

    if action == "fit" and out is not None:
        output_file(out, "--out")
    spec = load_robot(robot)
    trajectories = load_logs(
        spec, logs, csv_map, before_safe_mode=True, topics=topic, command_order=command_order, motor_order=motor_order
    )
    drive = None
    if calib is not None:
        from sim2real.calibration import calibrated_model, load_calibration

        model = calibrated_model(spec, load_calibration(calib, spec))
    if action == "fit":
        if out is None or net is not None:
            raise Sim2RealError("actuator fit writes --out FILE.onnx (--net is for eval)")
        from sim2real.sysid.actuator_fit import NetFitConfig, default_groups, fit_actuator_net, regex_groups

        groups = regex_groups(spec, group) if group else default_groups(spec)
        joints = [j for v in groups.values() for j in v]
        if calib is not None:
            drive = drive_model(spec, model, joints)
        config = NetFitConfig(
            kind=kind,
            history=history,
            dt=dt,
            epochs=epochs,
            validation=validation,
            seed=seed,
            torque_constant=torque_constant,
        )
        human(f"fitting {kind} actuator networks of {spec.name} on {len(trajectories)} log(s)", json)
        result = fit_actuator_net(spec, trajectories, out, config=config, groups=groups, drive=drive)
        summary = result.summary()
        emit(summary, json, _table(summary, joints) + f"\nwrote {out}")
        return 0
    if net is None or out is not None:
        raise Sim2RealError("actuator eval reads --net FILE.onnx (--out is for fit)")
    from sim2real.sim.net_actuator import ActuatorNet
    from sim2real.sysid.actuator_data import evaluate_net

    network = ActuatorNet(net)
    joints = [j for j in spec.actuated_joints if j in network.meta.joints]
    if calib is not None:
        drive = drive_model(spec, model, joints)
    figures = evaluate_net(spec, network, trajectories, drive, torque_constant)
    figures["net"] = str(net)
    emit(figures, json, _table(figures, joints))
    return 0
