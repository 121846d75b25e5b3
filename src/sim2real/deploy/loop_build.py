"""The deployment loop of a policy file on a robot: :func:`build_loop` (``deploy --ros2``'s node,
its self-test and ``sim2sim`` build their loops here).  Numpy and onnxruntime (no torch)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sim2real.deploy.collision_model import ObserverModel
from sim2real.deploy.loop import ControlLoop
from sim2real.deploy.loop_config import LoopConfig, TickResult
from sim2real.deploy.monitor import deployment_monitor
from sim2real.deploy.speed import SpeedProgression, parse_stage
from sim2real.errors import Sim2RealError
from sim2real.real.protocol import Robot

__all__ = ["build_loop", "check_height_scan"]


def check_height_scan(observation: Any, robot: Any) -> None:
    """Refuse a policy that observes a terrain height scan on a robot that gives none.

    A MuJoCo twin whose spec observes a scan casts its rays in its own scene
    (``TwinRobot.gives_height_scan``); a ROS 2 robot reads no terrain, so a rough-terrain policy
    cannot be deployed or checked there.

    Args:
        observation: The policy's observation layout (``PolicyMetadata.observation``).
        robot: The robot.

    Raises:
        Sim2RealError: the layout has ``height_scan`` and the robot does not say it gives one
            (``robot.gives_height_scan``, absent: False).
    """
    if any(t.name == "height_scan" for t in observation) and getattr(robot, "gives_height_scan", False) is not True:
        raise Sim2RealError(
            "the policy observes a terrain height scan, which this robot does not give (sim2real computes it by "
            "ray casts on a MuJoCo twin only: sim2sim, deploy --twin)"
        )


def build_loop(
    spec: Any,
    robot: Robot,
    policy_path: str | Path,
    *,
    config: LoopConfig | None = None,
    speed_stage: int | float | str | None = None,
    log_path: str | Path | None = None,
    log_meta: Mapping[str, Any] | None = None,
    on_tick: Callable[[TickResult], None] | None = None,
    speed: SpeedProgression | None = None,
    live: Any = None,
    observed: ObserverModel | None = None,
) -> ControlLoop:
    """The deployment loop of a policy file on a robot (``deploy --ros2``'s node builds its loop here).

    Loads the policy with :class:`~sim2real.policy.runtime.PolicyRunner` (CPU provider: the lowest
    latency for one robot); paced mode unless ``config`` says otherwise; the speed progression
    starting at ``speed_stage`` (index, fraction or percentage; see :func:`parse_stage`).

    Args:
        spec: The robot (the robot's own spec must be the same).
        robot: The robot.
        policy_path: The ``.onnx`` policy.
        config: Loop settings; default ``LoopConfig(mode="paced")``.
        speed_stage: Stage to start at; None: ``config.speed.start_stage``.
        log_path: The run's bag directory (must not exist); None: no log.
        log_meta: Description stored in the bag's metadata (after ``policy_file``).
        on_tick: Called with every tick's result.
        speed: The speed progression (e.g. the stage ledger's); default: from ``config.speed``.
        live: A live view (see :class:`ControlLoop`).
        observed: The model the collision observer predicts torques with, when the caller has it
            already (:meth:`~sim2real.deploy.collision_model.ObserverModel.of_policy` of this
            policy); None: the loop reads it from the policy's metadata.

    Raises:
        PolicyError / SpecMismatchError: the policy cannot be loaded or is for another spec.
        Sim2RealError: the policy observes the base's linear velocity and the robot says it gives
            none (``robot.gives_base_lin_vel`` False: a ROS 2 robot without an odometry topic), or a
            terrain height scan and the robot cannot give one (:func:`check_height_scan`).
    """
    from sim2real.policy.runtime import PolicyRunner

    if robot.spec.hash != spec.hash:
        raise Sim2RealError(
            f"the robot's spec {robot.spec.hash[:12]} is not the deployment's {spec.hash[:12]}"
        )
    runner = PolicyRunner(policy_path, spec, providers="cpu")
    if getattr(robot, "gives_base_lin_vel", True) is False and any(
        t.name == "base_lin_vel" for t in runner.metadata.observation
    ):
        raise Sim2RealError(
            "the policy observes the base's linear velocity, which this robot does not give: name its state "
            "estimator's nav_msgs/Odometry topic (ros2: odometry_topic)"
        )
    check_height_scan(runner.metadata.observation, robot)
    if config is None:
        config = LoopConfig(mode="paced")
    index = parse_stage(speed_stage, config.speed.stages)
    if index is not None:
        config = dataclasses.replace(config, speed=dataclasses.replace(config.speed, start_stage=index))
    return ControlLoop(
        robot,
        runner,
        config=config,
        log_path=log_path,
        log_meta={"policy_file": str(policy_path), **dict(log_meta or {})},
        on_tick=on_tick,
        speed=speed,
        live=live,
        monitor=None if observed is None else deployment_monitor(spec, observed=observed),
    )
