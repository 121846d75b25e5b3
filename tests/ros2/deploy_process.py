"""Runs the ROS 2 deployment node in its own process for the end-to-end test (not a test module).

    python deploy_process.py ROBOT POLICY LOG [--rt-priority N]

Runs until SIGINT/SIGTERM, then prints the run's summary as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from sim2real.deploy.ros2_node import run_ros2_deploy
from sim2real.robots import load_robot


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("robot")
    parser.add_argument("policy")
    parser.add_argument("log")
    parser.add_argument("--rt-priority", type=int, default=None)
    parser.add_argument("--executor", default="events")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    summary = run_ros2_deploy(
        load_robot(args.robot),
        args.policy,
        log_path=args.log,
        rt_priority=args.rt_priority,
        executor=args.executor,
    )
    print(json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
