"""The efforts of JointState messages as the measured-torque check takes them: one joint without an
effort interface leaves the others checked (safety review 9, finding 4)."""

from __future__ import annotations

import array

import numpy as np
import pytest

from sim2real.real.ros2.efforts import EffortReader
from sim2real.robots import load_robot


@pytest.fixture(scope="module")
def quadruped():
    return load_robot("quadruped")


def reader(spec):
    said: list[str] = []
    warned: set[str] = set()

    def warn_once(key, message):
        if key not in warned:
            warned.add(key)
            said.append(message)

    return EffortReader(spec, warn_once), said


def read(er, values):
    n = len(values)
    return er.read(array.array("d", values), np.arange(n), n)


class TestOneJointWithoutEfforts:
    def test_the_joints_that_measure_keep_their_values_and_the_other_is_marked(self, quadruped):
        er, said = reader(quadruped)
        values = np.full(quadruped.n_joints, 80.0)
        values[11] = np.nan  # RR_calf: no effort interface (ros2_control publishes NaN)
        for _ in range(3):
            tau, measured = read(er, values)
        assert tau[:11].tolist() == [80.0] * 11 and np.isnan(tau[11])  # before: tau None, no check at all
        assert measured.tolist() == [True] * 11 + [False]
        assert said == [
            "JointState effort is NaN at RR_calf, which never gave one: the measured-torque check is off at these "
            "joints only (commands there are still limited through the spec's gains)"
        ]

    def test_a_joint_that_starts_measuring_is_checked_from_then_on(self, quadruped):
        er, _ = reader(quadruped)
        values = np.ones(quadruped.n_joints)
        values[11] = np.nan
        assert read(er, values)[1] is not None
        tau, measured = read(er, np.ones(quadruped.n_joints))
        assert measured is None and tau.tolist() == [1.0] * quadruped.n_joints
        tau, measured = read(er, values)  # now its NaN is a fault: passed on for the monitor to stop on
        assert measured is None and np.isnan(tau[11])

    def test_nothing_measured_anywhere_is_no_measurement(self, quadruped):
        er, said = reader(quadruped)
        assert read(er, np.full(quadruped.n_joints, np.nan)) is None
        assert er.read(array.array("d"), np.arange(12), 12) is None
        assert len(said) == 2 and "carries no efforts" in said[1]

    def test_a_measured_joint_going_quiet_is_a_fault_beside_an_unmeasured_one(self, quadruped):
        er, _ = reader(quadruped)
        values = np.ones(quadruped.n_joints)
        values[11] = np.nan
        read(er, values)
        values[0] = np.nan
        tau, measured = read(er, values)
        assert np.isnan(tau[0]) and measured[0] and not measured[11]
