"""Between physics steps: actuator networks (batched, history per simulation) and Stribeck friction."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from net_testdata import accumulator_gru, linear_net
from sim2real.errors import SimulationError, SpecError
from sim2real.params import Parameters
from sim2real.robots import load_robot
from sim2real.robots.friction import stribeck_friction
from sim2real.robots.model import build_model
from sim2real.sim.batch import BatchSim
from sim2real.sim.floating import hung_model
from sim2real.sim.net_actuator import ActuatorNet, NetDrives, with_actuator_net
from sim2real.sim.replay import Replayer, build_windows


def _pendulum_with_stribeck(spec_variant, stribeck: float, velocity: float):
    def edit(raw):
        raw["friction"] = {"hinge": {"coulomb": 0.0, "viscous": 0.0, "stribeck": stribeck, "stribeck_velocity": velocity}}

    return load_robot(spec_variant("pendulum", edit))


def _swing(sim: BatchSim, steps: int) -> np.ndarray:
    sim.reset(qpos=np.full((sim.num_envs, 1), 1.0))
    out = []
    for _ in range(steps):
        sim.step(np.zeros((sim.num_envs, 1)))
        out.append(sim.joint_pos[:, 0].copy())
    return np.array(out)


class TestStribeckFriction:
    def test_the_batch_matches_a_fine_explicit_integration_of_the_friction_law(self, spec_variant):
        spec = _pendulum_with_stribeck(spec_variant, 0.3, 2.0)
        ours = _swing(BatchSim(spec, 1, nthread=1), 300)[:, 0]  # 1.5 s at 1 ms physics, swinging
        # reference: the same model without the jnt_user values, the friction law as an explicit
        # applied torque (sign regularized over 1 mrad/s) on a 50x finer step
        model = build_model(spec)
        model.jnt_user[:] = 0.0
        model.opt.timestep = spec.physics_dt / 50
        data = mujoco.MjData(model)
        data.qpos[0] = 1.0
        ref = []
        for _ in range(300):
            for _ in range(spec.substeps * 50):
                v = data.qvel[0]
                data.qfrc_applied[0] = -np.tanh(v / 1e-3) * float(stribeck_friction(v, 0.3, 2.0))
                mujoco.mj_step(model, data)
            ref.append(data.qpos[0])
        free = _swing(BatchSim(_pendulum_with_stribeck(spec_variant, 0.0, 2.0), 1, nthread=1), 300)[:, 0]
        effect = np.max(np.abs(free - np.array(ref)))  # measured 0.067 rad
        assert effect > 0.05
        assert np.max(np.abs(ours - np.array(ref))) < 0.2 * effect  # measured 0.007 rad

    def test_at_rest_the_stribeck_friction_holds_like_coulomb_friction_of_the_breakaway_size(self):
        # the hung quadruped with its drives off: only friction holds the legs against gravity
        spec = load_robot("quadruped")

        def drift(coulomb: float, stribeck: float) -> np.ndarray:
            sim = BatchSim(spec, 1, nthread=1, model=hung_model(spec))
            values = {"actuator.*.kp": 1e-6, "actuator.*.kd": 0.0, "joint.*.frictionloss": coulomb}
            sim.params.set(sim.batch, {**values, "joint.*.stribeck": stribeck})
            sim.reset()
            start = sim.joint_pos.copy()
            for _ in range(25):
                sim.step(np.tile(spec.default_pose, (1, 1)))
            return np.abs(sim.joint_pos - start)[0]

        slip, held, coulomb = drift(0.05, 0.0), drift(0.05, 2.0), drift(2.05, 0.0)
        assert slip.min() > 0.3  # 0.05 N m cannot hold a leg: it falls
        assert held.max() < 0.02  # breakaway at 2.05 N m holds it (creep of MuJoCo's soft constraint)
        np.testing.assert_allclose(held, coulomb, atol=1e-6)

    def test_a_steep_curve_stays_stable_at_the_training_step(self):
        # 2 N m of Stribeck friction fading within 0.01 rad/s on every joint of the hung Go2 at 5 ms
        spec = load_robot("quadruped")
        sim = BatchSim(spec, 2, nthread=1, model=hung_model(spec))
        sim.params.set(sim.batch, {"joint.*.stribeck": 2.0, "joint.*.stribeck_velocity": 0.01})
        rng = np.random.default_rng(0)
        sim.reset()
        for _ in range(100):
            sim.step(spec.default_pose + 0.3 * rng.standard_normal((2, spec.n_actions)))
        assert sim.check_finite().size == 0
        assert np.abs(sim.joint_vel).max() < 50.0

    def test_only_the_simulations_with_stribeck_friction_feel_it(self):
        spec = load_robot("pendulum")
        sim = BatchSim(spec, 2, nthread=1)
        sim.params.set(sim.batch, {"joint.hinge.stribeck": np.array([[0.0], [0.5]]), "joint.hinge.stribeck_velocity": 2.0})
        swung = _swing(sim, 100)
        plain = _swing(BatchSim(spec, 1, nthread=1), 100)[:, 0]
        np.testing.assert_array_equal(swung[:, 0], plain)  # bit-identical: same model, same steps
        assert np.max(np.abs(swung[:, 1] - plain)) > 0.05

    def test_the_parameter_friction_loss_survives_the_steps(self):
        spec = load_robot("pendulum")
        sim = BatchSim(spec, 2, nthread=1)
        sim.params.set(sim.batch, {"joint.hinge.stribeck": 0.3, "joint.hinge.frictionloss": np.array([[0.1], [0.2]])})
        _swing(sim, 20)
        np.testing.assert_allclose(sim.params.get(sim.batch, "joint.hinge.frictionloss")[:, 0], [0.1, 0.2])

    def test_a_replay_applies_it(self, spec_variant):
        from sim2real.logs import Trajectory

        spec = _pendulum_with_stribeck(spec_variant, 0.2, 0.3)
        sim = BatchSim(spec, 1, nthread=1)
        q = _swing(sim, 60)[:, 0]
        t = spec.control_dt * np.arange(1, 61)
        log = Trajectory(
            spec_hash=spec.hash,
            joint_names=("hinge",),
            t=np.r_[0.0, t],
            q=np.r_[1.0, q][:, None],
            qd=np.zeros((61, 1)),
            command_t=np.r_[0.0, t],
            command=np.zeros((61, 1)),
        )
        windows = build_windows(spec, [log], None, velocity="log")
        pred = Replayer(spec, windows).run()
        np.testing.assert_allclose(pred.q[0, :, 0], q, atol=1e-9)  # the same steps as the batch


def _pd_net(tmp_path, spec, history=1, weights=None):
    act = spec.actuators[0]
    groups = {"g0": spec.actuated_joints}
    w = weights if weights is not None else [act.kp] + [0.0] * (history - 1) + [-act.kd] + [0.0] * (history - 1)
    return linear_net(tmp_path / "pd.onnx", groups, w, history=history, dt=spec.control_dt, spec_hash=spec.hash)


class TestNetworks:
    def test_a_network_of_the_pd_law_drives_like_the_pd_actuator_one_physics_step_later(self, tmp_path):
        # kd = 0: MuJoCo integrates a native PD's kd implicitly, a network's torque is explicit.
        # A network reads the command in force strictly before each instant (as it was fitted from
        # logs), so it is the native PD with one physics step of latency.
        spec = load_robot("quadruped")
        nspec = with_actuator_net(spec, _pd_net(tmp_path, spec, weights=[spec.actuators[0].kp, 0.0]))
        assert all(a.net is not None and a.model == "pd" for a in nspec.actuators)
        rng = np.random.default_rng(1)
        commands = spec.default_pose + 0.3 * rng.standard_normal((50, 3, spec.n_actions))
        runs = []
        for s in (spec, nspec):
            sim = BatchSim(s, 3, nthread=1, model=hung_model(s))
            assert bool(sim.drives.nets) == (s is nspec)
            sim.params.set(sim.batch, {"actuator.*.kd": 0.0, "actuator.*.delay": spec.physics_dt} if s is spec else {})
            sim.reset()
            for c in commands:
                sim.step(c)
            runs.append(sim.joint_pos)
        assert np.max(np.abs(runs[0] - runs[1])) < 1e-4  # the network computes in float32
        assert np.max(np.abs(runs[0] - spec.default_pose)) > 0.1
        undelayed = BatchSim(spec, 3, nthread=1, model=hung_model(spec))
        undelayed.params.set(undelayed.batch, {"actuator.*.kd": 0.0})
        undelayed.reset()
        for c in commands:
            undelayed.step(c)
        assert np.max(np.abs(undelayed.joint_pos - runs[1])) > 1e-3  # the step of latency shows

    def test_a_rollout_keeps_the_networks_one_physics_step_of_latency(self, tmp_path):
        # the replay path (BatchSim.rollout, commands per physics step) reads commands as step does
        spec = load_robot("quadruped")
        nspec = with_actuator_net(spec, _pd_net(tmp_path, spec, weights=[spec.actuators[0].kp, 0.0]))
        rng = np.random.default_rng(2)
        per_control = spec.default_pose + 0.3 * rng.standard_normal((3, 40, spec.n_actions))
        per_control[:, 0] = spec.default_pose  # the rest command both start from (delay buffer, history)
        commands = np.repeat(per_control, spec.substeps, axis=1)  # (sims, physics steps, actions)
        finals = []
        for s, values in ((spec, {"actuator.*.kd": 0.0, "actuator.*.delay": spec.physics_dt}), (nspec, {})):
            sim = BatchSim(s, 3, nthread=1, model=hung_model(s))
            sim.params.set(sim.batch, values)
            sim.reset()
            out = sim.rollout(np.arange(3), commands, ["qpos"])
            finals.append(out["qpos"][:, -1, sim.qpos_idx])
        assert np.max(np.abs(finals[0] - finals[1])) < 1e-4
        assert np.max(np.abs(finals[0] - spec.default_pose)) > 0.1

    def test_strength_and_torque_limit_act_on_the_network_torque(self, tmp_path):
        spec = load_robot("quadruped")
        net = linear_net(tmp_path / "c.onnx", {"g0": spec.actuated_joints}, [0.0, 0.0], bias=5.0, dt=spec.control_dt)
        nspec = with_actuator_net(spec, net)
        with pytest.raises(SimulationError, match="not built with its actuator networks"):
            BatchSim(nspec, 1, nthread=1, model=hung_model(spec))
        sim = BatchSim(nspec, 2, nthread=1, model=hung_model(nspec))
        sim.params.set(sim.batch, {"actuator.FL_hip.strength": 0.5, "actuator.FR_hip.torque_limit": 1.0})
        sim.reset()
        sim.step(np.tile(spec.default_pose, (2, 1)))
        force = sim.batch.bind("actuator_force")[:, sim.act_idx]
        names = list(spec.actuated_joints)
        np.testing.assert_allclose(force[:, names.index("FL_hip")], 2.5)
        np.testing.assert_allclose(force[:, names.index("FR_hip")], 1.0)
        np.testing.assert_allclose(force[:, names.index("RL_hip")], 5.0)

    def test_the_history_reads_back_dt_apart_per_simulation(self, tmp_path):
        # torque = the position error 2 dt ago; dt = 4 physics steps
        path = linear_net(tmp_path / "h.onnx", {"g": ("a",)}, [0, 0, 1, 0, 0, 0], history=3, dt=0.004)
        drives = NetDrives(ActuatorNet(path), ["a"], ["pd"], 0.001, 2)
        drives.reset(np.arange(2), np.array([[[-1.0, 0.0]], [[-2.0, 0.0]]]))
        out = []
        for k in range(12):
            sample = np.array([[[k, 0.0]], [[10 * k, 0.0]]])
            out.append(drives.torque(np.arange(2), sample)[:, 0])
        out = np.array(out)
        np.testing.assert_allclose(out[:8, 0], -1.0)
        np.testing.assert_allclose(out[8:, 0], np.arange(4))
        np.testing.assert_allclose(out[8:, 1], 10 * np.arange(4))
        # advancing one simulation leaves the other's history alone
        drives.torque(np.array([0]), np.array([[[99.0, 0.0]]]))
        assert drives.torque(np.array([1]), np.array([[[120.0, 0.0]]]))[0, 0] == pytest.approx(40.0)

    def test_a_gru_state_advances_once_per_dt(self, tmp_path):
        path = accumulator_gru(tmp_path / "g.onnx", {"g": ("a",)}, dt=0.004)
        drives = NetDrives(ActuatorNet(path), ["a"], ["torque"], 0.001, 1)
        drives.reset(np.arange(1), np.zeros((1, 1, 2)))
        out = [drives.torque(np.arange(1), np.ones((1, 1, 2)))[0, 0] for _ in range(9)]
        np.testing.assert_allclose(out, [1, 2, 2, 2, 2, 3, 3, 3, 3])

    def test_mismatches_are_one_clear_error(self, tmp_path):
        spec = load_robot("quadruped")
        path = _pd_net(tmp_path, spec)
        net = ActuatorNet(path)
        with pytest.raises(SpecError, match="not a whole number of physics steps"):
            NetDrives(net, ["FL_hip"], ["pd"], 0.003, 1)
        with pytest.raises(SpecError, match="no group for joint 'elbow'"):
            NetDrives(net, ["elbow"], ["pd"], 0.005, 1)
        with pytest.raises(SpecError, match="models pd drives"):
            NetDrives(net, ["FL_hip"], ["dc_motor"], 0.005, 1)
        plain = tmp_path / "plain.onnx"
        linear_net(plain, {"g": ("a",)}, [1.0, 0.0])
        import onnx

        model = onnx.load(str(plain))
        del model.metadata_props[:]
        onnx.save(model, str(plain))
        with pytest.raises(SpecError, match="not a sim2real actuator network"):
            ActuatorNet(plain)


class TestSpecModelNet:
    def _spec(self, spec_variant, tmp_path):
        base = load_robot("quadruped")
        path = _pd_net(tmp_path, base)

        def edit(raw):
            for joint, act in raw["actuators"].items():
                raw["actuators"][joint] = {**act, "model": "net", "net": path.name, "drive": "pd"}

        variant = spec_variant("quadruped", edit)  # written next to the network (both in tmp_path)
        return load_robot(variant), variant.parent / path.name

    def test_a_spec_names_its_network_and_its_hash_covers_it(self, spec_variant, tmp_path):
        spec, path = self._spec(spec_variant, tmp_path)
        act = spec.actuator("FL_calf")
        assert act.model == "pd" and act.net == path.resolve() and act.kp == 25.0
        assert path.name in spec.files
        params = Parameters(spec, build_model(spec))
        assert "actuator.FL_calf.offset" in params.names and "actuator.FL_calf.kp" not in params.names
        before = spec.hash
        path.write_bytes(path.read_bytes() + b"\0")  # another file (ONNX ignores nothing: a new digest)
        assert load_robot(spec.path).hash != before
        assert any("actuator networks" in o for o in spec.overrides)

    def test_robot_show_names_the_network(self, spec_variant, tmp_path, capsys):
        import json

        from sim2real.cli import main

        spec, path = self._spec(spec_variant, tmp_path)
        assert main(["robot", "show", str(spec.path), "--json"]) == 0
        shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert {a["net"] for a in shown["actuators"]} == {str(path.resolve())}

    def test_a_missing_network_is_one_clear_error(self, spec_variant):
        def edit(raw):
            raw["actuators"]["FL_hip"] = {**raw["actuators"]["FL_hip"], "model": "net", "net": "missing.onnx"}

        with pytest.raises(SpecError, match="actuator network not found"):
            load_robot(spec_variant("quadruped", edit))


class TestCoverage:
    """Training learns where a network extrapolates: inputs beyond the range of its fit's samples."""

    def _sim(self, tmp_path, input_range):
        spec = load_robot("quadruped")
        path = linear_net(
            tmp_path / "pd.onnx", {"g": spec.actuated_joints}, [25.0, 0.0], dt=spec.control_dt, input_range=input_range
        )
        net_spec = with_actuator_net(spec, path)
        sim = BatchSim(net_spec, 2, nthread=1, model=hung_model(net_spec))
        sim.reset()
        return spec, sim

    def test_a_target_beyond_the_fitted_errors_is_named_with_its_joint_and_input(self, tmp_path):
        spec, sim = self._sim(tmp_path, {"position_error": [-0.2, 0.2], "velocity": [-50.0, 50.0]})
        for _ in range(3):
            sim.step(np.tile(spec.default_pose, (2, 1)))
        assert sim.drives.coverage() == []
        command = np.tile(spec.default_pose, (2, 1))
        command[1, 4] += 0.5  # one simulation, one joint: 0.5 rad of error against 0.2 fitted
        sim.step(command)
        lines = sim.drives.coverage()
        assert len(lines) == 1
        assert f"joint '{spec.actuated_joints[4]}' position_error" in lines[0] and "[-0.2, 0.2]" in lines[0]

    def test_a_network_without_a_recorded_range_reports_nothing(self, tmp_path):
        spec, sim = self._sim(tmp_path, None)
        command = np.tile(spec.default_pose, (2, 1)) + 1.0
        sim.step(command)
        assert sim.drives.coverage() == []

