"""What randomization needs from the layers below: the ``body.<b>.inertia`` parameter, delay
buffers that start from the reset state, and the TaskEnv hook that edits the model."""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.params import Parameters
from sim2real.robots.model import build_mjspec, build_model
from sim2real.sim.batch import BatchSim


def test_inertia_parameter_agrees_on_spec_model_and_batch(specs):
    spec = specs["furuta"]
    value = np.array([3.0e-5, 3.1e-5, 1.5e-6])
    mjspec = build_mjspec(spec)
    model = build_model(spec)
    params = Parameters(spec, model)
    params.set(mjspec, {"body.pendulum.inertia": value})
    params.set(model, {"body.pendulum.inertia": value})
    sim = BatchSim(spec, 2, nthread=1)
    sim.params.set(sim.batch, {"body.pendulum.inertia": value[None] * [[1.0], [2.0]]}, ids=np.array([0, 1]))
    np.testing.assert_allclose(params.get(mjspec, "body.pendulum.inertia"), value)
    np.testing.assert_allclose(params.get(model, "body.pendulum.inertia"), value)
    np.testing.assert_allclose(sim.params.get(sim.batch, "body.pendulum.inertia"), [value, 2 * value])


def test_a_delayed_pd_joint_holds_its_reset_target_instead_of_zero(specs):
    spec = specs["quadruped"]
    sim = BatchSim(spec, 2, nthread=1)
    sim.params.set(sim.batch, {"actuator.*.delay": np.array([[0.0], [3 * spec.physics_dt]])})
    sim.reset()
    forces = []
    for _ in range(3):
        sim.batch.step(nstep=1)
        forces.append(sim.batch.bind("actuator_force").copy())
    forces = np.array(forces)
    # without priming the delayed simulation would pull every joint towards 0 rad (tens of N m)
    np.testing.assert_allclose(forces[:, 1], forces[:, 0], atol=1e-9)


def test_a_delayed_quaternion_reads_the_reset_orientation(specs):
    sim = BatchSim(specs["quadruped"], 2, nthread=1)
    sim.params.set(sim.batch, {"sensor.imu_quat.delay": 2 * specs["quadruped"].physics_dt})
    sim.reset()
    np.testing.assert_allclose(sim.sensor("imu_quat"), [[1, 0, 0, 0], [1, 0, 0, 0]], atol=1e-12)


def test_hooks_with_edit_spec_shape_the_environment_model(specs):
    from sim2real.envs.core import TaskEnv
    from sim2real.tasks import get_task

    class AddBox:
        def edit_spec(self, mjspec):
            mjspec.worldbody.add_geom(
                name="marker", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.1, 0.1, 0.1], pos=[5, 5, 0]
            )

    spec = specs["pendulum"]
    env = TaskEnv(spec, get_task("pendulum"), 2, hooks=(AddBox(),))
    assert mujoco.mj_name2id(env.sim.model, mujoco.mjtObj.mjOBJ_GEOM, "marker") >= 0
    assert mujoco.mj_name2id(build_model(spec), mujoco.mjtObj.mjOBJ_GEOM, "marker") < 0
