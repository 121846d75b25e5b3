"""Multi-start identification: seeded start points inside the bounds, the best fit kept by one
common cost, the spread of the starts reported, the same result on any executor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sysid_testdata import synthetic_log

from sim2real.errors import Sim2RealError
from sim2real.parallel import ProcessExecutor
from sim2real.robots.model import build_model
from sim2real.sysid.identify import IdentifyConfig, build_problem, identify
from sim2real.sysid.multistart import draw_starts

TRUE = {"body.pole.mass": 0.72, "joint.hinge.damping": 0.28}
FAST = IdentifyConfig(step_check=False)


@pytest.fixture(scope="module")
def short_log():
    return synthetic_log("pendulum", TRUE, seconds=2.0)


def _runs(result) -> list[dict]:
    """The starts of a result without their wall times."""
    runs = result.summary()["starts"]["runs"]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in runs]


class TestStartPoints:
    def test_nominal_first_then_seeded_points_inside_the_bounds(self, pendulum, short_log):
        _, coords, _ = build_problem(
            pendulum, [short_log], build_model(pendulum), list(TRUE), FAST, None, None
        )
        points = draw_starts(coords, 6, seed=3)
        assert len(points) == 6
        np.testing.assert_array_equal(points[0], coords.get())
        for z in points[1:]:
            assert np.all(z >= coords.lo) and np.all(z <= coords.hi)
        again = draw_starts(coords, 6, seed=3)
        other = draw_starts(coords, 6, seed=4)
        assert all(np.array_equal(a, b) for a, b in zip(points, again, strict=True))
        assert not np.array_equal(points[1], other[1])
        # spread over the range, not bunched at the nominal value
        spread = np.ptp(np.stack(points[1:]), axis=0) / (coords.hi - coords.lo)
        assert np.all(spread > 0.3)

    def test_fewer_than_one_start_is_an_error(self, pendulum, short_log):
        with pytest.raises(Sim2RealError, match="at least 1"):
            identify(pendulum, [short_log], list(TRUE), config=FAST, starts=0)


class TestMultiStart:
    def test_a_well_posed_problem_converges_from_every_start(self, pendulum, short_log):
        result = identify(pendulum, [short_log], list(TRUE), config=FAST, starts=3, seed=0)
        ms = result.starts
        assert ms is not None and ms.n == 3 and ms.n_converged == 3
        for name, value in TRUE.items():
            assert result.params[name].value[0] == pytest.approx(value, rel=0.03)
        summary = result.summary()["starts"]
        assert summary["n"] == 3 and summary["converged"] == 3 and summary["seed"] == 0
        assert summary["runs"][0]["start"]["body.pole.mass"] == pytest.approx(0.6755)  # the nominal start
        assert identify(pendulum, [short_log], list(TRUE), config=FAST).starts is None

    def test_a_bad_start_does_not_win(self, pendulum, short_log):
        # three evaluations per solve: a start far from the data's minimum stops far from it
        config = dataclasses.replace(FAST, max_nfev=3)
        result = identify(pendulum, [short_log], list(TRUE), config=config, starts=4, seed=0)
        ms = result.starts
        costs = np.array([f.cost for f in ms.fits])
        assert ms.best == int(np.argmin(costs))
        bad = [f for f in ms.fits if f.cost > 10 * costs.min()]
        assert bad and not any(ms.converged[f.index] for f in bad)
        assert ms.n_converged < ms.n
        best = ms.fits[ms.best]
        for name in TRUE:
            assert result.params[name].value[0] == best.values[name][0]
        error = {f.index: max(abs(f.values[n][0] - v) / v for n, v in TRUE.items()) for f in ms.fits}
        assert error[ms.best] < 0.05
        assert all(error[f.index] > error[ms.best] for f in bad)

    def test_worker_processes_give_the_serial_result(self, pendulum, short_log):
        serial = identify(pendulum, [short_log], list(TRUE), config=FAST, starts=3, seed=1)
        with ProcessExecutor(2) as executor:
            parallel = identify(
                pendulum, [short_log], list(TRUE), config=FAST, starts=3, seed=1, executor=executor
            )
        assert _runs(parallel) == _runs(serial)
        for name in TRUE:
            np.testing.assert_array_equal(parallel.params[name].value, serial.params[name].value)
            np.testing.assert_array_equal(parallel.params[name].ci_low, serial.params[name].ci_low)
