"""`sim2real sim2sim --check`'s human text."""

from __future__ import annotations

from sim2real.commands.sim2sim import changes_text


class TestChangesLine:
    def test_the_mean_base_velocity_change_is_given_by_component_with_units(self):
        """pybullet's A1: 'changes: mean_base_velocity [0.00010126942801455084, 0.00019104044632117437,
        -0.0006420118986560901], tracking_error.linear -0.000, ...'."""
        line = changes_text(
            {
                "mean_base_velocity": [0.00010126942801455084, 0.25, -0.0006420118986560901],
                "allowed": [0.1, 0.1, 0.2],
                "tracking_error.linear": -0.0001,
                "torque_margin.min_fraction": 0.025,
            }
        )
        assert line == (
            "changes: mean base velocity vx +0.000 m/s, vy +0.250 m/s, wz -0.001 rad/s, "
            "tracking_error.linear -0.000, torque_margin.min_fraction +0.025"
        )
        assert "allowed" not in line and "[" not in line
