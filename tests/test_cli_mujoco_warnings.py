"""MuJoCo's warnings go to the log, one line per kind, not to stderr and a MUJOCO_LOG.TXT in the
user's folder (a replay of many diverging windows printed thousands of lines)."""

from __future__ import annotations

import logging

import mujoco
import pytest

from sim2real.cli import route_mujoco_warnings

STIFF = """<mujoco><option timestep="0.01" integrator="Euler"/><worldbody><body>
<joint name="j" axis="0 1 0"/><geom type="sphere" size="0.01" mass="1e-4"/></body></worldbody>
<actuator><position joint="j" kp="1e4"/></actuator></mujoco>"""


@pytest.fixture
def routed():
    before = mujoco.get_mju_user_warning()
    route_mujoco_warnings()
    yield
    mujoco.set_mju_user_warning(before)


def test_each_kind_of_warning_is_logged_once_and_no_log_file_is_written(routed, caplog, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = mujoco.MjModel.from_xml_string(STIFF)
    with caplog.at_level(logging.WARNING, logger="sim2real.mujoco"):
        for _ in range(3):  # three simulations diverge, each warns (at different times)
            data = mujoco.MjData(model)
            data.ctrl[:] = 0.3
            for _ in range(2000):
                mujoco.mj_step(model, data)
            assert data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number > 0  # the counters still count
    lines = [r.getMessage() for r in caplog.records if r.name == "sim2real.mujoco"]
    assert len(lines) == 1 and "QACC" in lines[0]
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
