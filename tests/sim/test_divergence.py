"""checked_step: a simulation MuJoCo resets after it diverged is an error, not a silent restart."""

from __future__ import annotations

import mujoco
import pytest

from sim2real.errors import SimulationError
from sim2real.sim.divergence import checked_step

STIFF = """<mujoco><option timestep="{dt}" integrator="Euler"/><worldbody><body>
<joint name="j" axis="0 1 0"/><geom type="sphere" size="0.01" mass="{mass}"/></body></worldbody>
<actuator><position joint="j" kp="1e4"/></actuator></mujoco>"""


class TestCheckedStep:
    def test_a_stable_simulation_steps_as_mj_step_does(self):
        model = mujoco.MjModel.from_xml_string(STIFF.format(dt=1e-4, mass=1.0))
        data, reference = mujoco.MjData(model), mujoco.MjData(model)
        data.ctrl[:] = reference.ctrl[:] = 0.3
        for _ in range(200):
            checked_step(model, data, "no hint needed")
            mujoco.mj_step(model, reference)
        assert data.time == pytest.approx(reference.time) and data.qpos[0] == reference.qpos[0] != 0.0

    def test_a_diverging_simulation_raises_with_the_time_and_the_hint(self):
        model = mujoco.MjModel.from_xml_string(STIFF.format(dt=0.01, mass=1e-4))  # explicit Euler far past stability
        data = mujoco.MjData(model)
        data.ctrl[:] = 0.3
        with pytest.raises(SimulationError, match=r"diverged at t = \d+\.\d{3} s \(MuJoCo reset it\): try a smaller step"):
            for _ in range(10_000):
                checked_step(model, data, "try a smaller step")

    @pytest.mark.parametrize("field", ["qvel", "qpos"])
    def test_a_reset_for_a_huge_velocity_or_position_raises_too(self, field):
        # MuJoCo resets the data for bad positions and velocities as well as for bad accelerations
        # (mjWARN_BADQPOS / BADQVEL): the twin's clock ran backwards with no error
        model = mujoco.MjModel.from_xml_string(STIFF.format(dt=1e-4, mass=1.0))
        data = mujoco.MjData(model)
        mujoco.mj_step(model, data)
        getattr(data, field)[0] = 1e12
        with pytest.raises(SimulationError, match=r"diverged at t = 0\.000 s"):
            checked_step(model, data, "hint")
