"""The identification problem: residual channels, coordinates, and Jacobians grouped by kinematic tree."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from sim2real.bench.scenarios import record_scenario
from sim2real.robots import load_robot
from sim2real.sim.floating import hung_model
from sim2real.sysid.identify import IdentifyConfig, cut_windows, default_params
from sim2real.sysid.problem import Coords, Problem, ProblemSettings, jacobian


@pytest.fixture(scope="module")
def hung_problem(tmp_path_factory):
    spec = load_robot("quadruped")
    log = record_scenario("quadruped_hung", tmp_path_factory.mktemp("hung") / "log", seconds=3.0)
    model = hung_model(spec)
    windows = cut_windows(spec, [log], model, IdentifyConfig(max_windows=6))
    names = default_params(spec, model)
    problem = Problem(spec, windows, model, names, ProblemSettings())
    problem.allocate(80)
    return problem, Coords(problem, names)


class TestChannels:
    def test_joints_velocities_and_measured_pd_torques(self, hung_problem):
        problem, _ = hung_problem
        assert problem.n_channels == 3 * 12  # q, qd and the drives' torques
        assert problem.independent  # four legs, no contact between them


class TestGroupedJacobian:
    def test_72_parameters_need_18_variants(self, hung_problem):
        _, coords = hung_problem
        groups = coords.groups()
        assert coords.size == 72 and len(groups) == 18
        for members in groups:
            trees = [next(iter(coords.trees[i])) for i in members]
            assert len(set(trees)) == len(trees)  # one parameter per leg in a variant

    def test_it_equals_the_column_by_column_jacobian(self, hung_problem, monkeypatch):
        problem, coords = hung_problem
        z = coords.get()
        r0, grouped = jacobian(problem, coords, z)
        assert scipy.sparse.issparse(grouped)
        monkeypatch.setattr(problem, "independent", False)
        r1, full = jacobian(problem, coords, z)
        np.testing.assert_array_equal(r0, r1)
        np.testing.assert_allclose(grouped.toarray(), full, rtol=1e-6, atol=1e-6 * np.abs(full).max())

    def test_default_parameters_of_the_hung_robot_are_the_joints_and_drives(self):
        spec = load_robot("quadruped")
        names = default_params(spec, hung_model(spec))
        assert len(names) == 72 and "actuator.FL_calf.kd" in names and "joint.RR_hip.frictionloss" in names
        floor = default_params(spec)
        assert floor == ["body.base.mass", "body.base.com", "geom.floor.friction"]


class TestOneParameter:
    def test_a_single_parameter_of_independent_trees_is_solved(self, hung_problem):
        """scipy's lsmr trust-region step works in a 2-D subspace: one coordinate raised IndexError."""
        from sim2real.sysid.problem import solve

        problem, _ = hung_problem
        coords = Coords(problem, ["joint.FL_calf.damping"])
        assert problem.independent and coords.size == 1
        assert solve(problem, coords, "linear", 1.0, 5) is not None
