"""The fault suite's independent audit: what counts as an unsafe command reaching the robot."""

from __future__ import annotations

import numpy as np

from sim2real.deploy.audit import AuditedRobot, audit_command
from sim2real.real.protocol import Command, Reading
from sim2real.robots import load_robot


class TestAudit:
    def test_audit_rules(self):
        spec = load_robot("quadruped")
        q = np.asarray(spec.default_pose, dtype=float)
        reading = Reading(t=0.0, q=q, qd=np.zeros(12))
        ok = Command(t=0.02, values=q)
        assert audit_command(spec, ok, reading, None) == []
        beyond = q.copy()
        beyond[0] = 1.2  # FL_hip limit 1.0, and 30 N m implied
        problems = audit_command(spec, Command(t=0.02, values=beyond), reading, None)
        assert any("outside" in p for p in problems) and any("implied torque" in p for p in problems)
        step = q.copy()
        step[1] += 0.9  # 0.9 rad in 10 ms: 90 rad/s > 50 rad/s; 22.5 N m is within the torque limit
        problems = audit_command(spec, Command(t=0.01, values=step), reading, Command(t=0.0, values=q))
        assert problems == ["FL_thigh: change 0.9 in 0.01 s beyond the rate 50/s"]
        assert audit_command(spec, Command(t=0.02, values=beyond, mode="safe"), reading, None) == []
        assert "without any valid reading" in audit_command(spec, ok, None, None)[0]

    def test_audit_of_a_dc_motor(self):
        spec = load_robot("furuta")
        reading = Reading(t=0.0, q=[0.0, 0.0], qd=[0.0, 0.0])
        assert audit_command(spec, Command(t=0.002, values=[10.0]), reading, None) == []
        problems = audit_command(spec, Command(t=0.002, values=[10.5]), reading, None)
        assert any("voltage" in p for p in problems) and any("implied torque" in p for p in problems)
        braking = Reading(t=0.0, q=[0.0, 0.0], qd=[-100.0, 0.0])  # back-EMF: 5 V already means 0.05 N m
        assert any(
            "implied torque" in p for p in audit_command(spec, Command(t=0.002, values=[6.0]), braking, None)
        )

    def test_audited_robot_counts_what_it_writes(self):
        from sim2real.real.twin import TwinRobot

        spec = load_robot("furuta")
        robot = AuditedRobot(TwinRobot(spec))
        robot.read()
        robot.write(Command(t=0.0, values=[1.0]))
        robot.write(Command(t=0.002, values=[9.0]))  # 8 V in 2 ms: beyond 2000 V/s
        assert robot.written == 2 and len(robot.unsafe) == 1
