"""Randomization.from_calibration: ranges centred on identified values, widths from their intervals."""

from __future__ import annotations

import numpy as np
import pytest

from sim2real.errors import SpecMismatchError
from sim2real.randomize import Randomization, RandomizationError, build_hooks
from sim2real.robots import load_robot
from sim2real.sysid import CalibratedParam, Calibration


def _param(value, low=None, high=None, nominal=None, identifiable=True):
    def arr(x):
        return None if x is None else np.atleast_1d(np.asarray(x, dtype=float))

    return CalibratedParam(
        arr(value), arr(value if nominal is None else nominal), arr(low), arr(high), identifiable=identifiable
    )


@pytest.fixture(scope="module")
def furuta():
    return load_robot("furuta")


@pytest.fixture(scope="module")
def calib(furuta):
    return Calibration(
        "furuta",
        furuta.hash,
        {
            "body.pendulum.mass": _param(0.027, 0.0265, 0.0275, 0.024),
            "joint.arm.damping": _param(8e-4, 7.9999e-4, 8.0001e-4, 5e-4),  # razor-thin interval
            "motor.motor.resistance": _param(9.3, identifiable=False, nominal=8.4),
            "actuator.motor.delay": _param(0.0005, 0.0, 0.0015, 0.0),
            "body.pendulum.com": _param([0.0, 0.0, 0.064], [-0.001, -0.001, 0.062], [0.001, 0.001, 0.066]),
        },
    )


def _ranges(rnd: Randomization) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {p.name: (p.low, p.high) for p in rnd.parameters}


class TestRanges:
    def test_centred_on_value_spanning_widen_times_the_interval(self, furuta, calib):
        lo, hi = _ranges(Randomization.from_calibration(calib, widen=2.0, spec=furuta))["body.pendulum.mass"]
        assert lo[0] == pytest.approx(0.027 - 0.001) and hi[0] == pytest.approx(0.027 + 0.001)

    def test_width_scales_with_widen(self, furuta, calib):
        one = _ranges(Randomization.from_calibration(calib, widen=1.0, spec=furuta))["body.pendulum.com"]
        three = _ranges(Randomization.from_calibration(calib, widen=3.0, spec=furuta))["body.pendulum.com"]
        assert (three[1] - three[0])[2] == pytest.approx(3 * (one[1] - one[0])[2])

    def test_clipped_to_the_plausible_bounds(self, furuta, calib):
        lo, hi = _ranges(Randomization.from_calibration(calib, widen=20.0, spec=furuta))["body.pendulum.mass"]
        assert hi[0] == 0.029 and lo[0] == 0.019  # furuta.yaml bounds

    def test_razor_thin_interval_gets_the_minimum_relative_width(self, furuta, calib):
        lo, hi = _ranges(Randomization.from_calibration(calib, spec=furuta))["joint.arm.damping"]
        assert hi[0] - lo[0] >= 2 * 0.02 * 8e-4 * (1 - 1e-9)
        assert lo[0] < 8e-4 < hi[0]

    def test_unidentifiable_parameter_falls_back_to_the_spec_bounds(self, furuta, calib):
        lo, hi = _ranges(Randomization.from_calibration(calib, spec=furuta))["motor.motor.resistance"]
        assert (lo[0], hi[0]) == (6.5, 11.0)  # furuta.yaml: motor.motor.resistance {low: 6.5, high: 11.0}

    def test_clipped_to_the_physical_domain(self, furuta, calib):
        lo, hi = _ranges(Randomization.from_calibration(calib, widen=5.0, spec=furuta))[
            "actuator.motor.delay"
        ]
        assert lo[0] == 0.0 and hi[0] > 0.0005

    def test_vector_parameters_get_a_range_per_component(self, furuta, calib):
        lo, hi = _ranges(Randomization.from_calibration(calib, widen=1.0, spec=furuta))["body.pendulum.com"]
        np.testing.assert_allclose(lo, [-0.001, -0.001, 0.062])
        np.testing.assert_allclose(hi, [0.001, 0.001, 0.066])

    def test_every_entry_is_absolute_uniform(self, furuta, calib):
        rnd = Randomization.from_calibration(calib, spec=furuta)
        assert {(e.mode, e.dist.kind) for e in rnd.entries} == {("absolute", "uniform")}
        assert {n for e in rnd.entries for n in e.names} == set(calib.params)


class TestBase:
    def test_base_randomizations_are_kept_and_calibrated_ones_override(self, furuta, calib):
        rnd = Randomization.from_calibration(calib, spec=furuta, base="default")
        ranges = _ranges(rnd)
        assert "sensor.arm_vel.noise" in ranges and "motor.motor.kt" in ranges
        lo, hi = ranges["body.pendulum.mass"]
        assert lo[0] == pytest.approx(0.026) and hi[0] == pytest.approx(0.028)
        assert "default" in rnd.description

    def test_base_entries_on_calibrated_parameters_only_are_dropped(self, furuta, calib):
        rnd = Randomization.from_calibration(calib, spec=furuta, base="default")
        delays = [e for e in rnd.entries if e.section == "delays"]
        assert len(delays) == 1 and delays[0].mode == "absolute"

    def test_hooks_build_from_it(self, furuta, calib):
        rnd = Randomization.from_calibration(calib, spec=furuta, base="default")
        assert build_hooks(furuta, rnd, seed=0)
        assert rnd.summary()["parameters"]


class TestErrors:
    def test_other_spec_hash_is_refused(self, furuta, calib):
        other = Calibration("furuta", "0" * 64, calib.params)
        with pytest.raises(SpecMismatchError, match="000000000000"):
            Randomization.from_calibration(other, spec=furuta)

    def test_negative_widen_is_refused(self, furuta, calib):
        with pytest.raises(RandomizationError, match="widen"):
            Randomization.from_calibration(calib, widen=-1.0, spec=furuta)

    def test_unknown_parameter_is_refused(self, furuta):
        bad = Calibration("furuta", furuta.hash, {"body.nothing.mass": _param(1.0, 0.9, 1.1)})
        with pytest.raises(RandomizationError, match=r"body\.nothing\.mass"):
            Randomization.from_calibration(bad, spec=furuta)

    def test_spec_defaults_to_the_embedded_robot(self, calib):
        assert Randomization.from_calibration(calib).robot == "furuta"
