"""``sim2real preflight`` (the pre-deployment checklist) and ``sim2real stages show`` (the ledger)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import tyro

from sim2real.commands.arguments import DomainId, NonNegative, RtPriority, Seed
from sim2real.commands.output import emit, human
from sim2real.errors import Sim2RealError


def preflight_text(result: dict[str, Any]) -> str:
    """One line per item, then the verdict."""
    rows = [f"{i['status'].upper():<5} {i['name']:<20} {i['evidence']}" for i in result["items"]]
    verdict = "PASSED" if result["passed"] else "FAILED"
    rows.append(
        f"preflight {verdict}: {result['robot']} ({result['target']}{', hung by its base' if result.get('fixed_base') else ''}), policy {result['policy_hash'][:12]}, "
        f"spec {result['spec_hash'][:12]}; recorded in {result.get('record')}"
    )
    return "\n".join(rows)


def preflight(
    robot: str,
    policy: str,
    twin: str | None = None,
    ros2: bool = False,
    confirm: tuple[Literal["perimeter"], ...] = (),
    ros_config: str | None = None,
    domain_id: DomainId | None = None,
    wait: NonNegative = 10.0,
    rt_priority: RtPriority | None = None,
    seed: Seed = 0,
    fixed_base: bool = False,
    allow_out_of_bounds: bool = False,
    json: bool = False,
) -> int:
    """The pre-deployment checklist against the robot; exits 1 unless every item passes.

    Items: estop (time to safe mode, limit two control periods), limits, contract (policy vs spec),
    zero_action_hold (2 s), joint_signs (one joint at a time, lowest speed stage), reduced_speed,
    fallback (safe mode defined and exercised), collision_detection (enabled and exercised) and
    perimeter (the operator's acknowledgement).  The result is appended to the preflight record
    ($SIM2REAL_STATE_DIR or ~/.local/state/sim2real/preflight.jsonl); `deploy --ros2` needs a
    passing robot run of the same policy and spec within 24 h.

    Args:
        robot: Embedded robot name or spec YAML path.
        policy: The policy file to be deployed (.onnx).
        twin: Run the checklist on the simulated twin with these hidden parameters (YAML).
        ros2: Run it on the ROS 2 robot (the robot moves: clear the area).
        confirm: Operator acknowledgements: `perimeter` (the safety perimeter is in place).
        ros_config: --ros2: YAML of topics, message types, QoS and joint mapping.
        domain_id: --ros2: ROS_DOMAIN_ID (default: from the environment).
        wait: --ros2: seconds to wait for the robot's joint states.
        rt_priority: --ros2: run under SCHED_FIFO with this priority (1-99; needs the permission),
            as `deploy --ros2 --rt-priority` will: the e-stop and hold are timed as they will run.
        seed: Seed of the twin.
        fixed_base: The robot hangs by its base from a stand, legs in the air (the twin hangs
            itself): for a legged robot its PD gains cannot carry in the default pose, as humanoids
            are first powered up.  The monitor checks the joints only; the record says so.
        allow_out_of_bounds: Accept a twin file whose values lie outside the robot's plausible
            parameter bounds.
        json: Print the result as JSON on stdout.
    """
    from sim2real.commands.deploy import _robot_source
    from sim2real.deploy.preflight import run_preflight
    from sim2real.deploy.preflight_record import append_record
    from sim2real.robots import load_robot

    _robot_source(twin, ros2)
    spec = load_robot(robot)
    if fixed_base:
        from sim2real.deploy.record import fixed_base_spec

        spec = fixed_base_spec(spec)  # the same robot (hash): the monitor checks its joints only
    confirmed = "perimeter" in confirm
    if ros2:
        result = _on_ros2(spec, policy, confirmed, ros_config, domain_id, wait, rt_priority, fixed_base)
    else:
        from sim2real.real.twin import TwinConfig, TwinRobot

        assert twin is not None
        config = TwinConfig.load(twin, spec, allow_out_of_bounds=allow_out_of_bounds)
        twin_robot = TwinRobot(spec, config, fixed_base=fixed_base)
        human(f"preflight of {policy} on the {spec.name} twin{' hung by its base' if fixed_base else ''}", json)
        result = run_preflight(
            spec, twin_robot, policy, target="twin", confirm_perimeter=confirmed, reset=twin_robot.reset,
            fixed_base=fixed_base,
        )
    path = append_record(result)
    out = result.as_dict()
    out["record"] = str(path)
    emit(out, json, preflight_text(out))
    return 0 if result.passed else 1


def _on_ros2(spec: Any, policy: str, confirmed: bool, ros_config: str | None, domain_id: int | None, wait: float,
             rt_priority: int | None = None, fixed_base: bool = False) -> Any:
    import os

    if domain_id is not None:
        os.environ["ROS_DOMAIN_ID"] = str(domain_id)
    from sim2real.deploy.ledger import ledger_start
    from sim2real.deploy.loop_build import check_height_scan
    from sim2real.deploy.preflight import run_preflight
    from sim2real.deploy.preflight_record import robot_settings, robot_target
    from sim2real.policy.metadata import read_metadata
    from sim2real.real.ros2 import Ros2Config, Ros2Robot, set_realtime_priority

    check_height_scan(read_metadata(policy).observation, None)  # before waiting for a robot: it gives none
    set_realtime_priority(rt_priority)  # before the robot's threads start: they inherit it
    config = Ros2Config.resolve(spec, ros_config)
    robot = Ros2Robot(spec, config, executor="single", node_name="sim2real_preflight")
    try:
        if not robot.wait_for_robot(wait):
            why = robot.not_ready() or robot.unheard()
            raise Sim2RealError(f"the robot is not ready within {wait} s: {why or 'no joint states (is it running?)'}")
        speed, earned_s = ledger_start(spec, policy, robot_target(domain_id))  # where `deploy --ros2` would start
        return run_preflight(
            spec, robot, policy, target="robot", confirm_perimeter=confirmed, paced=True, fixed_base=fixed_base,
            speed=speed, ledger_earned_s=earned_s, ros2_config=robot_settings(config.to_mapping(), domain_id),
        )
    finally:
        robot.close()


def stages(
    action: Annotated[Literal["show"], tyro.conf.Positional],
    robot: str | None = None,
    policy: str | None = None,
    ledger: str | None = None,
    json: bool = False,
) -> int:
    """The stage ledger: time earned at each speed stage per robot and policy, and the stage reached.

    Args:
        action: show.
        robot: Only this robot (embedded name or spec YAML path); its rows then show the stage a run would
            start from (an edited stage the time below it does not bear out shows as such).
        policy: Only this policy file (by its sha256).
        ledger: The ledger file (default: $SIM2REAL_STATE_DIR or ~/.local/state/sim2real/stages.sqlite).
        json: Print the rows as JSON on stdout.
    """
    from pathlib import Path

    from sim2real.deploy.ledger import StageLedger, ledger_path, ledger_text
    from sim2real.deploy.preflight_record import file_hash

    name = spec = None
    if robot is not None:
        from sim2real.robots import load_robot

        spec = load_robot(robot)
        name = spec.name
    policy_hash = file_hash(policy) if policy is not None else None
    path = ledger_path(Path(ledger) if ledger else None)
    if not path.exists() and path.parent.is_dir():  # no run has earned time yet: showing creates no file
        rows: list = []
    else:
        with StageLedger(path) as book:
            rows = book.rows(robot=name, policy_hash=policy_hash, spec=spec)
    emit({"ledger": str(path), "rows": rows}, json, ledger_text(rows, str(path)))
    return 0
