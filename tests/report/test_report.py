"""HTML reports: one self-contained file, figures embedded as PNG, tables, and the result sections."""

from __future__ import annotations

import base64
import dataclasses
import re

import numpy as np
import pytest
from gap_testdata import pendulum_log

from sim2real.gap import measure_gap
from sim2real.gap.envelope import EnvelopeResult, GridAxis
from sim2real.gap.failure import analyze_failures
from sim2real.report import Report, add_envelope, add_gap, add_identification
from sim2real.report.html import format_value
from sim2real.robots import load_robot
from sim2real.tasks import get_task

PNG = re.compile(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in PNG.findall(html)]


def assert_self_contained(html: str) -> None:
    """No external resource: every src is a data URI, every href an in-page anchor."""
    for src in re.findall(r'\bsrc="([^"]*)"', html):
        assert src.startswith("data:"), src
    for href in re.findall(r'\bhref="([^"]*)"', html):
        assert href.startswith("#"), href
    assert "<link" not in html and "<script" not in html and "url(" not in html


def _figure():
    from sim2real.report.figures import new_figure

    fig = new_figure(4, 3)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, 1, 4])
    return fig


@pytest.fixture(scope="module")
def spec():
    return load_robot("pendulum")


@pytest.fixture(scope="module")
def gap_result(spec):
    log = pendulum_log()
    result = measure_gap(spec, log, threshold=0.05)
    return dataclasses.replace(
        result, failures=analyze_failures(spec, log, result, task=get_task("pendulum"))
    )


class TestReport:
    def test_file_is_self_contained_with_its_figures_and_tables(self, tmp_path):
        rep = Report("A <title>", "sub & title")
        rep.text("before any section")
        rep.section("First", "intro")
        rep.table([{"name": "a", "value": 1.23456789}, {"name": "b", "extra": None}], caption="cap")
        rep.figure(_figure(), "a figure")
        rep.section("Second")
        rep.figure(_figure())
        path = rep.write(tmp_path / "deep" / "dir" / "r.html")
        assert path.is_file()
        html = path.read_text()
        assert_self_contained(html)
        pngs = _pngs(html)
        assert len(pngs) == 2 == rep.n_figures
        assert all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
        assert html.count("<table>") == 1 == rep.n_tables
        assert "A &lt;title&gt;" in html and "sub &amp; title" in html
        assert "<th>extra</th>" in html and "1.235" in html
        assert html.count("<h2>") == 2 and 'href="#s2"' in html

    def test_pyplot_figures_are_closed_once_embedded(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = plt.figure()
        fig.add_subplot().plot([1, 2])
        Report("t").figure(fig)
        assert fig.number not in plt.get_fignums()

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (None, "–"),
            (float("nan"), "–"),
            (True, "yes"),
            (3, "3"),
            (0.5, "0.5"),
            (1e-5, "1.000e-05"),
            ([1.0, 2], "[1, 2]"),
        ],
    )
    def test_cells_are_formatted(self, value, text):
        assert format_value(value) == text


class TestSections:
    def test_gap_section_has_overlays_growth_histograms_failures_and_tables(self, tmp_path, gap_result):
        assert gap_result.failures
        rep = Report("gap")
        add_gap(rep, gap_result, "nominal")
        html = rep.write(tmp_path / "gap.html").read_text()
        assert_self_contained(html)
        # overlay, error growth, histograms, one failed episode
        assert len(_pngs(html)) == 4
        assert "Reality gap — nominal" in html and "hinge.velocity" in html and "Failed episodes" in html
        assert rep.n_tables >= 4

    def test_gap_result_without_replay_data_still_reports(self, tmp_path, gap_result):
        bare = dataclasses.replace(gap_result, replay=None, q_sim=None, qd_sim=None, failures=())
        rep = Report("gap")
        add_gap(rep, bare)
        html = rep.write(tmp_path / "bare.html").read_text()
        assert len(_pngs(html)) == 1 and "left out" in html

    def test_identification_section(self, tmp_path, spec):
        from sim2real.sysid.identify import IdentifyConfig, identify

        config = IdentifyConfig(horizon=0.5, max_nfev=8, estimate_delay=False)
        result = identify(spec, [pendulum_log()], "body.pole.mass,joint.hinge.damping", config=config)
        assert result.correlation is not None and result.correlation.shape == (2, 2)
        assert result.correlation_labels == ("body.pole.mass", "joint.hinge.damping")
        assert result.q_fit is not None and result.q_fit.shape == result.replay.q.shape
        rep = Report("sysid")
        add_identification(rep, result)
        html = rep.write(tmp_path / "sysid.html").read_text()
        assert_self_contained(html)
        assert len(_pngs(html)) == 3  # fit overlay, residuals, correlation
        assert "body.pole.mass" in html and "CI low" in html and "nominal" in html

    @pytest.mark.parametrize("shape", [(3,), (2, 3)])
    def test_envelope_section_draws_the_grid(self, tmp_path, shape):
        axes = tuple(
            GridAxis(name, np.linspace(0, 1, n), (name,), unit)
            for (name, unit), n in zip(
                [("actuator.motor.delay", "s"), ("body.pole.mass", "kg")], shape, strict=False
            )
        )
        rate = np.linspace(0, 1, int(np.prod(shape))).reshape(shape)
        result = EnvelopeResult(
            robot="pendulum",
            policy="p.onnx",
            axes=axes,
            success_rate=rate,
            successes=np.zeros((*shape, 2), dtype=bool),
            reasons=np.full((*shape, 2), "success", dtype=object),
            episodes=2,
            rule="upright",
            nominal={a.name: 0.5 for a in axes},
        )
        rep = Report("envelope")
        add_envelope(rep, result)
        html = rep.write(tmp_path / "env.html").read_text()
        assert_self_contained(html)
        assert len(_pngs(html)) == 1
        assert html.count("<tr>") == 1 + rate.size  # header + one row per cell
