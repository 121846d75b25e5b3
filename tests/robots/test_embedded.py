"""The embedded robots: they load, compile, simulate, and match their published figures."""

from __future__ import annotations

import math
from pathlib import Path

import mujoco
import numpy as np
import pytest

from sim2real.params import Parameters
from sim2real.robots import EMBEDDED, list_robots, load_robot
from sim2real.robots.model import (
    actuator_indices,
    build_model,
    default_qpos,
    joint_dof_indices,
    joint_qpos_indices,
)

QUBE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "qube"


def _id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    index = mujoco.mj_name2id(model, kind, name)
    assert index >= 0, f"no {kind} named {name}"
    return index


def _start(name: str):
    """Spec, model and data at the default pose, controls at the default pose (pd) or zero."""
    spec = load_robot(name)
    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    data.ctrl[:] = 0.0
    for act, index in zip(spec.actuators, actuator_indices(spec, model), strict=True):
        if act.model == "pd":
            data.ctrl[index] = spec.default_pose[spec.joints.index(act.joint)]
    mujoco.mj_forward(model, data)
    return spec, model, data


def _tilt(data: mujoco.MjData, body: int) -> float:
    """Angle between the body's z axis and the world's [rad]."""
    return float(math.acos(np.clip(data.xmat[body].reshape(3, 3)[2, 2], -1.0, 1.0)))


class TestAllEmbedded:
    def test_every_embedded_robot_is_present(self):
        assert list_robots() == list(EMBEDDED)

    @pytest.mark.parametrize("name", EMBEDDED)
    def test_loads_and_compiles_with_spec_timestep(self, name):
        spec = load_robot(name)
        model = build_model(spec)
        assert spec.name == name
        assert model.opt.timestep == pytest.approx(spec.control_dt / spec.substeps)
        assert model.nu == len(spec.actuators)
        assert len(set(joint_qpos_indices(spec, model))) == spec.n_joints
        assert spec.n_obs == sum(term.size for term in spec.observation)

    @pytest.mark.parametrize("name", EMBEDDED)
    def test_thousand_steps_stay_finite(self, name):
        _, model, data = _start(name)
        for _ in range(1000):
            mujoco.mj_step(model, data)
        assert np.isfinite(data.qpos).all()
        assert np.isfinite(data.qvel).all()
        assert np.isfinite(data.sensordata).all()

    @pytest.mark.parametrize("name", EMBEDDED)
    def test_parameter_bounds_resolve_and_contain_nominal(self, name):
        spec = load_robot(name)
        params = Parameters(spec, build_model(spec))
        for bound in spec.parameter_bounds:
            names = params.resolve([bound.name])
            assert names, bound.name
            for full in names:
                info = params.info(full)
                assert np.all(info.low <= info.nominal), full
                assert np.all(info.nominal <= info.high), full

    @pytest.mark.parametrize("name", EMBEDDED)
    def test_default_pose_inside_mjcf_ranges_and_safety_limits(self, name):
        spec = load_robot(name)
        model = build_model(spec)
        for j, q, lo, hi in zip(
            spec.joints, spec.default_pose, spec.safety.position_low, spec.safety.position_high, strict=True
        ):
            assert lo <= q <= hi
            jid = _id(model, mujoco.mjtObj.mjOBJ_JOINT, j)
            if model.jnt_limited[jid]:
                mj_lo, mj_hi = model.jnt_range[jid]
                assert mj_lo <= lo < hi <= mj_hi, f"{j}: safety limits must lie inside the MJCF range"

    def test_hash_is_stable_across_loads(self):
        assert load_robot("quadruped").hash == load_robot("quadruped").hash
        assert len({load_robot(name).hash for name in EMBEDDED}) == len(EMBEDDED)


class TestPendulum:
    def test_zero_is_hanging_so_it_swings_back_through_zero(self):
        spec, model, data = _start("pendulum")
        q = joint_qpos_indices(spec, model)[0]
        data.qpos[q] = 0.3
        crossed_at = None
        for i in range(int(1.0 / model.opt.timestep)):
            mujoco.mj_step(model, data)
            if data.qpos[q] < 0.0:
                crossed_at = i
                break
        assert crossed_at is not None, "a hanging pendulum released at 0.3 rad must swing through 0"
        # a quarter of the small-swing period 2 pi sqrt(l / g) of a 0.5 m pendulum is 0.35 s
        assert 0.25 < crossed_at * model.opt.timestep < 0.5
        assert data.qvel[joint_dof_indices(spec, model)[0]] < 0.0


class TestFuruta:
    def test_published_figures(self):
        spec = load_robot("furuta")
        model = build_model(spec)
        (motor,) = spec.actuators
        assert motor.joint == "arm"
        assert motor.model == "dc_motor"
        assert (motor.resistance, motor.kt, motor.ke, motor.voltage_limit) == (8.4, 0.042, 0.042, 10.0)
        assert motor.torque_limit == pytest.approx(motor.kt * motor.voltage_limit / motor.resistance)
        arm = _id(model, mujoco.mjtObj.mjOBJ_BODY, "arm")
        pend = _id(model, mujoco.mjtObj.mjOBJ_BODY, "pendulum")
        assert model.body_mass[arm] == pytest.approx(0.095)
        assert model.body_mass[pend] == pytest.approx(0.024)
        dof = joint_dof_indices(spec, model)
        assert model.dof_armature[dof[0]] == pytest.approx(4.0e-6)
        # uniform rods: centre of mass half way, inertia m L^2 / 3 about the pivot
        assert model.body_pos[pend] == pytest.approx([0.085, 0.0, 0.0])
        assert np.linalg.norm(model.body_ipos[pend]) == pytest.approx(0.129 / 2)
        assert model.body_inertia[pend][0] + 0.024 * (0.129 / 2) ** 2 == pytest.approx(
            0.024 * 0.129**2 / 3, rel=1e-4
        )
        assert model.body_inertia[arm][1] + 0.095 * (0.085 / 2) ** 2 == pytest.approx(
            0.095 * 0.085**2 / 3, rel=1e-4
        )
        assert spec.control_dt == pytest.approx(0.002)
        assert [t.size for t in spec.observation] == [4, 2, 1]

    def test_one_input_the_pendulum_is_passive(self):
        spec = load_robot("furuta")
        model = build_model(spec)
        assert model.nu == 1
        assert model.actuator_trnid[0, 0] == _id(model, mujoco.mjtObj.mjOBJ_JOINT, "arm")
        assert model.actuator_ctrlrange[0] == pytest.approx([-10.0, 10.0])

    def test_zero_is_upright_so_it_falls_with_zero_voltage(self):
        spec, model, data = _start("furuta")
        alpha = joint_qpos_indices(spec, model)[1]
        data.qpos[alpha] = 0.02
        for _ in range(int(0.3 / model.opt.timestep)):
            mujoco.mj_step(model, data)
        assert data.qpos[alpha] > 0.2, "released just off alpha = 0 the rod must fall away from upright"
        pend = _id(model, mujoco.mjtObj.mjOBJ_BODY, "pendulum")
        assert data.xipos[pend][2] < model.body_ipos[pend][2]

    def test_pi_is_hanging_and_stable(self):
        spec, model, data = _start("furuta")
        alpha = joint_qpos_indices(spec, model)[1]
        data.qpos[alpha] = math.pi + 0.1
        pend = _id(model, mujoco.mjtObj.mjOBJ_BODY, "pendulum")
        mujoco.mj_forward(model, data)
        assert data.xipos[pend][2] < 0.0
        excursion = 0.0
        for _ in range(int(1.0 / model.opt.timestep)):
            mujoco.mj_step(model, data)
            excursion = max(excursion, abs(data.qpos[alpha] - math.pi))
        assert excursion < 0.15

    def test_positive_voltage_turns_arm_positive_and_rod_lags(self):
        spec, model, data = _start("furuta")
        data.ctrl[0] = 5.0
        for _ in range(20):
            mujoco.mj_step(model, data)
        theta, alpha = data.qpos[joint_qpos_indices(spec, model)]
        assert theta > 0.0
        assert alpha < 0.0  # the rod's free end stays behind the accelerating arm
        # and positive alpha leans the rod towards +y at theta = 0: ahead of the arm tip's motion
        data.qpos[:] = 0.0
        data.qpos[joint_qpos_indices(spec, model)[1]] = 0.1
        mujoco.mj_forward(model, data)
        pend = _id(model, mujoco.mjtObj.mjOBJ_BODY, "pendulum")
        assert data.xipos[pend][1] > 0.0

    @pytest.mark.realdata
    def test_sign_convention_matches_the_recordings(self):
        files = sorted(QUBE_DIR.glob("qube_*.csv"))
        if not files:
            pytest.skip(f"real QUBE recordings not found in {QUBE_DIR}")
        data = np.genfromtxt(files[0], delimiter=",", names=True)
        t, theta, alpha, volts = data["t"], data["theta"], data["alpha"], data["plant_input"]
        kernel = np.ones(15) / 15

        def rate(x):
            return np.gradient(np.convolve(x, kernel, "same"), t)

        inner = slice(50, -50)
        alpha_s = np.convolve(alpha, kernel, "same")
        theta_d = rate(theta)
        theta_dd, alpha_dd = rate(theta_d), rate(rate(alpha))
        ones = np.ones_like(t)
        fit_theta, *_ = np.linalg.lstsq(
            np.c_[np.convolve(volts, kernel, "same"), theta_d, alpha_s, ones][inner],
            theta_dd[inner],
            rcond=None,
        )
        fit_alpha, *_ = np.linalg.lstsq(np.c_[alpha_s, theta_dd, ones][inner], alpha_dd[inner], rcond=None)

        spec, model, sim = _start("furuta")
        qa = joint_qpos_indices(spec, model)
        sim.ctrl[0] = 1.0
        mujoco.mj_forward(model, sim)
        acc_volt = sim.qacc.copy()
        sim.ctrl[0] = 0.0
        sim.qpos[qa[1]] = 0.01
        mujoco.mj_forward(model, sim)
        acc_alpha = sim.qacc.copy()
        # theta_dd per volt, and alpha_dd's response to alpha (upright is unstable) and to theta_dd
        assert np.sign(fit_theta[0]) == np.sign(acc_volt[0]) == 1.0
        assert np.sign(fit_alpha[0]) == np.sign(acc_alpha[1]) == 1.0
        assert np.sign(fit_alpha[1]) == np.sign(acc_volt[1] / acc_volt[0]) == -1.0


class TestQuadruped:
    def test_published_figures(self):
        spec = load_robot("quadruped")
        model = build_model(spec)
        assert 13.0 <= model.body_subtreemass[0] <= 17.0
        assert spec.n_joints == 12
        assert spec.floating_base and spec.base_body == "base"
        assert spec.imu is not None and spec.imu.site == "imu"
        assert model.opt.timestep == pytest.approx(0.005)
        assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        for act in spec.actuators:
            assert act.model == "pd"
            assert act.torque_limit == pytest.approx(45.43 if act.joint.endswith("calf") else 23.7)
        for leg in ("FL", "FR", "RL", "RR"):
            thigh = _id(model, mujoco.mjtObj.mjOBJ_BODY, f"{leg}_thigh")
            calf = _id(model, mujoco.mjtObj.mjOBJ_BODY, f"{leg}_calf")
            foot = _id(model, mujoco.mjtObj.mjOBJ_GEOM, f"{leg}_foot")
            assert model.body_pos[calf] == pytest.approx([0.0, 0.0, -0.213])
            assert model.geom_pos[foot] == pytest.approx([0.0, 0.0, -0.213])
            assert model.body_pos[model.body_parentid[thigh]][0] == pytest.approx(
                0.1934 if leg[0] == "F" else -0.1934
            )
        assert spec.n_obs == 45

    def test_stands_under_pd_from_the_default_pose(self):
        spec, model, data = _start("quadruped")
        base = _id(model, mujoco.mjtObj.mjOBJ_BODY, "base")
        floor = _id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        for _ in range(int(2.0 / model.opt.timestep)):
            mujoco.mj_step(model, data)
        height = data.qpos[2]
        assert spec.safety.base_height_low < height < spec.safety.base_height_high
        assert 0.26 < height < 0.33
        assert _tilt(data, base) < 0.05
        assert np.abs(data.qvel).max() < 0.5  # settled, not sliding or sinking
        # only the four feet touch the floor, and nothing touches anything but the floor
        touching = set()
        for contact in data.contact[: data.ncon]:
            assert floor in (contact.geom1, contact.geom2)
            other = contact.geom2 if contact.geom1 == floor else contact.geom1
            touching.add(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, other))
        assert touching == {"FL_foot", "FR_foot", "RL_foot", "RR_foot"}
        # the joints hold near the default pose
        q = data.qpos[joint_qpos_indices(spec, model)]
        assert np.abs(q - spec.default_pose).max() < 0.35

    def test_legs_do_not_collide_with_each_other(self):
        spec = load_robot("quadruped")
        model = build_model(spec)
        floor = _id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        for g1 in range(model.ngeom):
            for g2 in range(g1 + 1, model.ngeom):
                if floor in (g1, g2):
                    continue
                collide = (model.geom_contype[g1] & model.geom_conaffinity[g2]) or (
                    model.geom_contype[g2] & model.geom_conaffinity[g1]
                )
                assert not collide

    def test_floor_friction_sets_the_contact_friction(self):
        spec = load_robot("quadruped")
        model = build_model(spec)
        floor = _id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        for leg in ("FL", "FR", "RL", "RR"):
            foot = _id(model, mujoco.mjtObj.mjOBJ_GEOM, f"{leg}_foot")
            assert model.geom_priority[floor] > model.geom_priority[foot]
        assert 0.8 <= model.geom_friction[floor][0] <= 1.0
