"""The demo pipeline end to end with a tiny budget: every stage runs and leaves its artifacts."""

from __future__ import annotations

import json
import re

import pytest

from sim2real.errors import Sim2RealError
from sim2real.pipeline import ARTIFACTS, STAGES, SUMMARY_KEYS, TINY_BUDGET, DemoConfig, run_demo

pytest.importorskip("torch", reason="the demo trains (train extra)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    notices = []
    result = run_demo(
        DemoConfig(out=str(out), budget=TINY_BUDGET), lambda stage, msg, frac: notices.append(stage)
    )
    return out, result, notices


@pytest.mark.slow(seconds=80)
class TestTinyDemo:
    def test_every_stage_runs_in_order(self, demo):
        _, result, notices = demo
        assert list(dict.fromkeys(notices)) == list(STAGES)
        assert set(result.stage_seconds) == set(STAGES)

    def test_summary_has_every_key_with_measured_values(self, demo):
        _, result, _ = demo
        summary = result.summary()
        assert set(summary) == set(SUMMARY_KEYS)
        for key in ("sim_success", "twin_success_dr", "twin_success_nodr"):
            assert 0.0 <= summary[key] <= 1.0
        assert summary["gap_before"] > 0 and summary["gap_after"] > 0
        assert summary["seconds"] > 0 and isinstance(summary["safety_stops"], int)

    def test_artifacts_are_written(self, demo):
        out, result, _ = demo
        for name in ARTIFACTS:
            assert (out / name).exists(), name
        assert json.loads((out / "demo.json").read_text()) == json.loads(json.dumps(result.summary()))

    def test_report_is_self_contained_with_its_figures(self, demo):
        out, _, _ = demo
        html = (out / "report.html").read_text()
        assert html.count("data:image/png;base64,") >= 4
        assert not re.search(r"""(src|href)=["'](?!data:|#)""", html)  # nothing fetched from elsewhere
        for heading in ("Summary", "hidden versus identified", "before calibration", "Training", "twin"):
            assert heading in html

    def test_twin_hides_parameters_away_from_nominal(self, demo):
        _, result, _ = demo
        ident = result.identification
        for name, value in result.hidden.items():
            nominal = ident.params[name].nominal if name in ident.params else None
            if nominal is not None:
                assert (value != nominal).any(), name

    def test_rerun_replaces_the_previous_demo(self, demo, tmp_path):
        out, _, _ = demo
        (out / "stranger.txt").write_text("not ours")
        with pytest.raises(Sim2RealError, match=r"stranger\.txt"):
            run_demo(DemoConfig(out=str(out), budget=TINY_BUDGET))
        (out / "stranger.txt").unlink()


def test_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "thesis.tex").write_text("")
    with pytest.raises(Sim2RealError, match="not a previous demo"):
        run_demo(DemoConfig(out=str(tmp_path), budget=TINY_BUDGET))
