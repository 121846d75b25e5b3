"""The failed episode's figure of a robot with many joints (a 29-joint G1 replay has 87 channels)."""

from __future__ import annotations

import io
import warnings

import numpy as np

from sim2real.report import figures


class TestFailureFigure:
    def test_many_channels_plot_the_largest_errors_with_a_legend_that_fits(self):
        # all 87 channels went into the legend of a 3.6 inch figure: matplotlib printed "constrained_layout
        # not applied because axes sizes collapsed to zero" on `sim2real gap` and the plot was the legend
        t = np.linspace(0.0, 1.0, 50)
        errors = {f"joint{i}.position": (i + 1) * 0.001 * t for i in range(87)}
        thresholds = dict.fromkeys(errors, 0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig = figures.failure_figure(t, errors, thresholds, divergence_t=0.5, end_t=1.0)
            fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")  # as the report renders it
        ax = fig.axes[0]
        assert ax.get_position().height > 0.3  # the plot, not the legend, fills the figure
        labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
        plotted = [name for name in labels if name in errors]
        assert len(plotted) <= figures.MAX_FAILURE_CHANNELS
        assert plotted[0] == "joint86.position"  # the largest error first
        assert f"{len(plotted)} of 87 channels" in ax.get_title()

    def test_few_channels_are_all_plotted(self):
        t = np.linspace(0.0, 1.0, 20)
        errors = {"a.position": 0.1 * t, "b.velocity": 0.2 * t}
        fig = figures.failure_figure(t, errors, dict.fromkeys(errors, 0.1), divergence_t=None)
        labels = {line.get_label() for line in fig.axes[0].get_lines()}
        assert set(errors) <= labels and "of 2 channels" not in fig.axes[0].get_title()
