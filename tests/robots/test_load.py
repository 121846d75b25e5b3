"""Loading a spec against a model that has sensors of its own: reuse, namespacing, overrides logged once."""

from __future__ import annotations

import logging
import shutil

import mujoco
import numpy as np
import pytest

from sim2real.params import Parameters
from sim2real.robots import DATA_DIR, load_robot, load_spec
from sim2real.robots.model import DEFAULT_MAX_DELAY, build_mjspec, build_model, log_overrides
from sim2real.sim.batch import BatchSim
from sim2real.sim.sensors import SensorReader

SENSORS = """  <sensor>
    <framepos name="hinge_pos" objtype="body" objname="pole"/>
    <jointvel name="hinge_speed" joint="hinge"/>
  </sensor>
</mujoco>"""


@pytest.fixture
def pendulum_with_sensors(tmp_path):
    """The pendulum whose MJCF has a sensor named like ours measuring something else, and a joint
    velocity sensor of its own."""
    xml = (DATA_DIR / "pendulum.xml").read_text()
    (tmp_path / "pendulum.xml").write_text(xml.replace("</mujoco>", SENSORS))
    shutil.copy(DATA_DIR / "pendulum.yaml", tmp_path / "pendulum.yaml")
    return load_spec(tmp_path / "pendulum.yaml")


class TestModelSensors:
    def test_same_measurement_is_reused_and_a_clashing_name_is_namespaced(self, pendulum_with_sensors):
        spec = pendulum_with_sensors
        assert spec.sensor_name("hinge.vel") == "hinge_speed"
        assert spec.sensor_name("hinge.pos") == "sim2real_hinge_pos"
        model = build_model(spec)
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_SENSOR, i) for i in range(model.nsensor)]
        assert sorted(names) == sorted(["hinge_pos", "hinge_speed", "sim2real_hinge_pos", "hinge_torque"])
        assert any("reuses 1 of the model's sensors (hinge_speed" in o for o in spec.overrides)

    def test_encoder_readings_come_from_the_planned_sensors(self, pendulum_with_sensors):
        sim = BatchSim(pendulum_with_sensors, 2, nthread=1)
        sim.reset(qpos=np.array([[0.3], [-0.2]]), qvel=np.array([[1.0], [2.0]]))
        q, qd = SensorReader(sim, np.random.default_rng(0)).joints()
        np.testing.assert_allclose(q, [[0.3], [-0.2]])
        np.testing.assert_allclose(qd, [[1.0], [2.0]])

    def test_the_spec_hash_differs_from_the_embedded_pendulums(self, pendulum_with_sensors):
        assert pendulum_with_sensors.hash != load_robot("pendulum").hash

    def test_every_named_sensor_holds_the_delays_its_bounds_allow(self, pendulum_with_sensors):
        # the model's own framepos 'hinge_pos' is no encoder, but sensor.hinge_pos.delay is a parameter
        model = build_model(pendulum_with_sensors)
        params = Parameters(pendulum_with_sensors, model)
        for name in ("hinge_pos", "hinge_speed", "sim2real_hinge_pos"):
            params.set(model, {f"sensor.{name}.delay": DEFAULT_MAX_DELAY})
            assert params.get(model, f"sensor.{name}.delay")[0] == pytest.approx(DEFAULT_MAX_DELAY)


class TestOverrides:
    def test_timestep_integrator_and_actuators_are_listed(self):
        spec = load_robot("furuta")
        assert spec.overrides[:2] == (
            "timestep 0.002 -> 0.001 s (control.dt / control.substeps)",
            "integrator Euler -> implicitfast (control.integrator)",
        )
        assert "motor (motor/general) -> dc_motor" in spec.overrides[2]

    def test_they_are_logged_once_per_spec(self, pendulum_with_sensors, caplog):
        path = pendulum_with_sensors.path  # a description of its own: a spec no other test has built
        path.write_text(path.read_text().replace("description: ", f"description: {path.parent.name} ", 1))
        spec = load_spec(path)
        with caplog.at_level(logging.INFO, logger="sim2real.robots.model"):
            build_mjspec(spec)
            build_mjspec(spec)
            log_overrides(spec)
        lines = [r.getMessage() for r in caplog.records if "changes its model" in r.getMessage()]
        assert len(lines) == 1 and "sim2real_hinge_pos" in lines[0]


def test_a_locked_joint_held_outside_its_range_is_one_error_line(tmp_path):
    """A locked joint's value was never checked: a ROS 2 deployment sent it to the robot's command slot
    every tick, past the joint's stop, and the simulator's constraint fought the stop without a word."""
    import yaml

    from sim2real.errors import SpecError

    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw["mjcf"] = str(DATA_DIR / "quadruped.xml")
    raw["joints"].remove("FL_hip")
    raw["default_pose"].pop("FL_hip")
    raw["actuators"].pop("FL_hip")
    for key in ("joint_position", "joint_velocity", "joint_torque"):
        raw["safety"][key].pop("FL_hip")
    for term in raw["observation"]:
        term["size"] = 11 if term["size"] == 12 else term["size"]
    raw["locked_joints"] = {"FL_hip": 0.0}
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    assert load_spec(tmp_path / "robot.yaml").locked_joints == {"FL_hip": 0.0}
    raw["locked_joints"] = {"FL_hip": 3.0}
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match=r"locked_joints\.FL_hip = 3 is outside the MJCF joint range \[-1\.0472, 1\.0472\]"):
        load_spec(tmp_path / "robot.yaml")
