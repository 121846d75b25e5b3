"""PolicyRunner: spec checks, damaged files, inputs, and equality with the training-side mapping."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sim2real.envs.core import TaskEnv
from sim2real.errors import PolicyError, SpecMismatchError
from sim2real.policy.metadata import parse_model_bytes
from sim2real.policy.observation import ObservationBuilder
from sim2real.policy.runtime import PolicyRunner, select_providers
from sim2real.robots import DATA_DIR, EMBEDDED, ObservationTerm, load_robot, load_spec
from sim2real.tasks import get_task
from sim2real.tasks.observations import OBSERVATION_TERMS, ObservationHistory, ObsInputs, build_observation

UPRIGHT = np.array([1.0, 0.0, 0.0, 0.0])


def spec_copy(tmp_path, name: str, yaml_edit=None, xml_edit=None):
    """A copy of an embedded robot's YAML + MJCF in tmp_path, optionally edited (each edit must apply)."""
    yaml_text = (DATA_DIR / f"{name}.yaml").read_text()
    xml_text = (DATA_DIR / f"{name}.xml").read_text()
    for text, edit in ((yaml_text, yaml_edit), (xml_text, xml_edit)):
        if edit is not None:
            assert edit[0] in text, edit
    if yaml_edit:
        yaml_text = yaml_text.replace(*yaml_edit)
    if xml_edit:
        xml_text = xml_text.replace(*xml_edit)
    (tmp_path / f"{name}.yaml").write_text(yaml_text)
    (tmp_path / f"{name}.xml").write_text(xml_text)
    return load_spec(tmp_path / f"{name}.yaml")


def quadruped_inputs(rng):
    return (
        load_robot("quadruped").default_pose + rng.normal(0, 0.1, 12),
        rng.normal(0, 1.0, 12),
        rng.normal(0, 0.5, 3),
        UPRIGHT + np.r_[0.0, rng.normal(0, 0.05, 3)],
        np.array([0.5, 0.0, 0.2]),
    )


class TestSpecCheck:
    def test_policy_for_another_robot_is_refused_naming_both_hashes(self, exported):
        pendulum, furuta = exported["pendulum"], load_robot("furuta")
        with pytest.raises(SpecMismatchError) as info:
            PolicyRunner(pendulum.path, furuta)
        message = str(info.value)
        assert pendulum.spec.hash[:12] in message and furuta.hash[:12] in message
        assert "joint names: policy ['hinge'] vs robot ['arm', 'pendulum']" in message
        assert "\n" not in message

    def test_unchanged_copy_of_the_spec_is_accepted(self, exported, tmp_path):
        copy = spec_copy(tmp_path, "pendulum")
        assert copy.hash == exported["pendulum"].spec.hash
        PolicyRunner(exported["pendulum"].path, copy)

    def test_changed_observation_scale_is_refused_and_named(self, exported, tmp_path):
        changed = spec_copy(
            tmp_path,
            "pendulum",
            yaml_edit=("{name: joint_vel, size: 1, scale: 0.1}", "{name: joint_vel, size: 1, scale: 0.2}"),
        )
        assert changed.hash != exported["pendulum"].spec.hash
        with pytest.raises(SpecMismatchError, match=r"observation layout \[1\]: .*0\.1.* vs robot .*0\.2") as info:
            PolicyRunner(exported["pendulum"].path, changed)
        assert info.value.differences == [
            "observation layout [1]: policy ('joint_vel', 1, 0.1) vs robot ('joint_vel', 1, 0.2)"
        ]
        assert len(str(info.value)) <= 300 and "\n" not in str(info.value)

    def test_changed_gain_is_refused_and_named(self, exported, tmp_path):
        edit = (
            "FL_hip:   {actuator: FL_hip, model: pd, kp: 25.0",
            "FL_hip:   {actuator: FL_hip, model: pd, kp: 30.0",
        )
        changed = spec_copy(tmp_path, "quadruped", yaml_edit=edit)
        with pytest.raises(SpecMismatchError, match=r"actuator FL_hip\.kp: policy 25\.0 vs robot 30\.0"):
            PolicyRunner(exported["quadruped"].path, changed)

    def test_changed_mjcf_is_refused(self, exported, tmp_path):
        changed = spec_copy(tmp_path, "pendulum", xml_edit=('mass="0.6255"', 'mass="0.7"'))
        with pytest.raises(SpecMismatchError, match="spec content outside what the policy records"):
            PolicyRunner(exported["pendulum"].path, changed)


class TestDamagedFiles:
    def check_one_line(self, path, spec, match):
        with pytest.raises(PolicyError, match=match) as info:
            PolicyRunner(path, spec)
        message = str(info.value)
        assert "\n" not in message and str(path) in message
        return message

    def test_missing_file(self, tmp_path):
        self.check_one_line(tmp_path / "none.onnx", load_robot("pendulum"), "policy file not found")

    @pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
    def test_truncated_file(self, exported, tmp_path, keep):
        data = exported["pendulum"].path.read_bytes()
        path = tmp_path / "cut.onnx"
        path.write_bytes(data[: int(len(data) * keep)])
        self.check_one_line(path, exported["pendulum"].spec, "truncated|not an ONNX model|checksum|metadata")

    @pytest.mark.parametrize("content", [b"", b"hello, this is not a model\n", bytes(range(256)) * 8])
    def test_not_onnx(self, tmp_path, content):
        path = tmp_path / "junk.onnx"
        path.write_bytes(content)
        self.check_one_line(path, load_robot("pendulum"), "not an ONNX model|not a readable ONNX file")

    def test_flipped_weight_bytes_are_detected(self, exported, tmp_path):
        item = exported["quadruped"]
        data = bytearray(item.path.read_bytes())
        weight = item.run.policy.body[0].weight.detach().numpy().astype(np.float32).tobytes()
        at = bytes(data).find(weight[:64])
        assert at > 0
        data[at + 10] ^= 0x40
        path = tmp_path / "flipped.onnx"
        path.write_bytes(bytes(data))
        self.check_one_line(path, item.spec, "checksum mismatch")

    def test_broken_graph_with_a_valid_checksum_is_rejected_by_onnxruntime(self, exported, tmp_path):
        import onnx

        from sim2real.policy.metadata import CHECKSUM_KEY, add_checksum

        item = exported["pendulum"]
        model = onnx.load(str(item.path))
        next(n for n in model.graph.node if n.op_type == "Tanh").op_type = "NoSuchOp"
        props = {p.key: p.value for p in model.metadata_props if p.key != CHECKSUM_KEY}
        del model.metadata_props[:]
        for key, value in props.items():
            model.metadata_props.add(key=key, value=value)
        add_checksum(props, model.SerializeToString())
        model.metadata_props.add(key=CHECKSUM_KEY, value=props[CHECKSUM_KEY])
        path = tmp_path / "broken.onnx"
        path.write_bytes(model.SerializeToString())
        self.check_one_line(path, item.spec, "onnxruntime cannot load the graph")

    def test_onnx_model_without_our_metadata(self, tmp_path):
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("Identity", ["obs"], ["action"])],
            "g",
            [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [None, 4])],
            [helper.make_tensor_value_info("action", TensorProto.FLOAT, [None, 4])],
        )
        path = tmp_path / "plain.onnx"
        onnx.save(helper.make_model(graph), str(path))
        assert parse_model_bytes(path.read_bytes()).props == {}
        self.check_one_line(path, load_robot("pendulum"), "without sim2real policy metadata")


class TestInputs:
    def test_wrong_sizes_are_policy_errors(self, exported):
        runner = PolicyRunner(exported["quadruped"].path, exported["quadruped"].spec)
        q, qd, gyro, quat, cmd = quadruped_inputs(np.random.default_rng(0))
        with pytest.raises(PolicyError, match=r"joint_pos has shape \(11,\), the policy expects \(12,\)"):
            runner.step(q[:11], qd, gyro, quat, cmd)
        with pytest.raises(PolicyError, match="quat"):
            runner.step(q, qd, gyro, quat[:3], cmd)
        with pytest.raises(PolicyError, match="needs 'velocity_command'"):
            runner.step(q, qd, gyro, quat)
        with pytest.raises(PolicyError, match=r"expects \(batch, 45\)"):
            runner.infer(np.zeros((2, 44)))

    def test_lists_and_row_vectors_are_accepted(self, exported):
        runner = PolicyRunner(exported["quadruped"].path, exported["quadruped"].spec)
        q, qd, gyro, quat, cmd = quadruped_inputs(np.random.default_rng(0))
        expected = runner.step(q, qd, gyro, quat, cmd).copy()
        runner.reset()
        got = runner.step(list(q), qd.reshape(1, -1), tuple(gyro), quat, cmd.reshape(1, 3))
        np.testing.assert_array_equal(got, expected)

    @pytest.mark.parametrize("where", ["joint_pos", "gyro", "quat", "inf_vel", "zero_quat"])
    def test_non_finite_input_holds_the_command_and_flags_it(self, exported, where):
        item = exported["quadruped"]
        runner = PolicyRunner(item.path, item.spec)
        reference = PolicyRunner(item.path, item.spec)
        rng = np.random.default_rng(1)
        first, second = quadruped_inputs(rng), quadruped_inputs(rng)
        held = runner.step(*first).copy()
        reference.step(*first)
        filtered = runner.filtered_action.copy()
        bad = [x.copy() for x in second]
        if where == "joint_pos":
            bad[0][3] = np.nan
        elif where == "gyro":
            bad[2][1] = np.nan
        elif where == "quat":
            bad[3][0] = np.nan
        elif where == "inf_vel":
            bad[1][0] = np.inf
        else:
            bad[3][:] = 0.0
        command = runner.step(*bad)  # must not raise
        assert runner.last_input_finite is False and runner.invalid_steps == 1
        np.testing.assert_array_equal(command, held)
        np.testing.assert_array_equal(runner.filtered_action, filtered)
        # the bad step left no trace: the next good step is the reference's
        np.testing.assert_array_equal(runner.step(*second), reference.step(*second))
        assert runner.last_input_finite is True

    def test_reset_clears_the_filter(self, exported):
        item = exported["furuta"]  # alpha = 0.8: the filter has memory
        runner = PolicyRunner(item.path, item.spec)
        q, qd = np.array([0.1, 0.05]), np.array([0.3, -1.0])
        first = runner.step(q, qd).copy()
        assert not np.array_equal(runner.step(q, qd), first)  # the filter state changed the result
        runner.reset()
        np.testing.assert_array_equal(runner.command, [0.0])
        np.testing.assert_array_equal(runner.filtered_action, [0.0])
        np.testing.assert_array_equal(runner.step(q, qd), first)

    def test_step_reading_takes_a_robot_reading(self, exported):
        from types import SimpleNamespace

        item = exported["quadruped"]
        runner, reference = PolicyRunner(item.path, item.spec), PolicyRunner(item.path, item.spec)
        q, qd, gyro, quat, cmd = quadruped_inputs(np.random.default_rng(2))
        reading = SimpleNamespace(q=q, qd=qd, gyro=gyro, quat=quat, tau=None, valid=True)
        np.testing.assert_array_equal(
            runner.step_reading(reading, cmd), reference.step(q, qd, gyro, quat, cmd)
        )

    def test_step_returns_the_same_read_only_buffer(self, exported):
        item = exported["pendulum"]
        runner = PolicyRunner(item.path, item.spec)
        a = runner.step(np.array([0.1]), np.array([0.0]))
        b = runner.step(np.array([0.2]), np.array([0.0]))
        assert a is b and not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 1.0

    def test_session_is_single_threaded_with_every_optimization(self, exported):
        import onnxruntime as ort

        runner = PolicyRunner(exported["pendulum"].path, exported["pendulum"].spec)
        opts = runner.session.get_session_options()
        assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (1, 1)
        assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        assert runner.providers[-1] == "CPUExecutionProvider"


class RecordingEnv(TaskEnv):
    """TaskEnv that keeps the sensor readings its last observation was built from."""

    def obs_inputs(self) -> ObsInputs:
        self.last_inputs = super().obs_inputs()
        return self.last_inputs


class CommandRecorder:
    """Environment hook: the filtered action and the command that go into the physics."""

    def pre_physics(self, env: TaskEnv, command: np.ndarray) -> np.ndarray:
        self.filtered = env.filtered_action.copy()
        self.command = command.copy()
        return command


class TestTrainingMapping:
    @pytest.mark.parametrize(("name", "steps"), [("pendulum", 400), ("furuta", 400), ("quadruped", 150)])
    def test_runner_reproduces_training_observations_and_commands(self, exported, name, steps):
        """Drive the training environment with the runner: same observations, identical commands."""
        import torch

        item = exported[name]
        recorder = CommandRecorder()
        env = RecordingEnv(item.spec, get_task(name), 1, seed=5, nthread=1, hooks=(recorder,))
        obs, _ = env.reset()
        runner = PolicyRunner(item.path, item.spec)
        policy = item.run.policy.eval()
        commands = []
        for _ in range(steps):
            inp = env.last_inputs
            runner.step(
                inp.joint_pos[0],
                inp.joint_vel[0],
                None if inp.base_ang_vel is None else inp.base_ang_vel[0],
                None if inp.base_quat is None else inp.base_quat[0],
                None if inp.velocity_command is None else inp.velocity_command[0],
            )
            assert runner.last_input_finite
            np.testing.assert_allclose(runner.observation, obs[0].astype(np.float32), rtol=1e-6, atol=1e-6)
            with torch.no_grad():
                reference = policy(torch.from_numpy(obs.astype(np.float32))).numpy()[0]
            np.testing.assert_allclose(runner.action, reference, atol=1e-5)
            result = env.step(np.array(runner.action).reshape(1, -1))
            np.testing.assert_array_equal(runner.filtered_action, recorder.filtered[0])
            np.testing.assert_array_equal(runner.command, recorder.command[0])
            commands.append(runner.command.copy())
            if result.done[0]:  # the environment reset its filter: so does the robot's loop
                runner.reset()
            obs = result.obs
        assert np.ptp(np.array(commands), axis=0).max() > 1e-3  # the commands actually varied

    def test_commands_match_action_to_command_with_the_filter(self, exported):
        """The mapping alone, on a sequence of observations, against TaskEnv.action_to_command."""
        item = exported["furuta"]
        task = get_task("furuta")
        env = TaskEnv(item.spec, task, 1, seed=0, nthread=1)
        runner = PolicyRunner(item.path, item.spec)
        rng = np.random.default_rng(4)
        filtered = np.zeros((1, 1))
        seen = []
        for _ in range(200):
            q, qd = rng.normal(0, 1.5, 2), rng.normal(0, 8.0, 2)
            command = runner.step(q, qd)
            action = np.array(runner.action).reshape(1, -1)
            filtered = task.action_filter * action + (1.0 - task.action_filter) * filtered
            np.testing.assert_array_equal(command, env.action_to_command(filtered)[0])
            seen.append(filtered[0, 0])
        assert np.ptp(seen) > 1e-3  # the sequence exercised the mapping with varying actions


class TestObservationBuilder:
    @pytest.mark.parametrize("frames", [1, 4])
    def test_every_term_matches_build_observation(self, frames):
        n_joints, n_act, dt = 3, 2, 0.02
        layout = [
            ObservationTerm("joint_pos", 3, 0.5),
            ObservationTerm("joint_pos_rel", 3, (2.0, 1.0, 0.5), history=3),
            ObservationTerm("joint_pos_sincos", 6, 1.5),
            ObservationTerm("joint_vel", 3, 0.05, clip=(-4.0, 4.0)),
            ObservationTerm("last_action", 2, 1.0, history=2),
            ObservationTerm("base_ang_vel", 3, 0.25, history=4, clip=((-1.0, -0.5, -2.0), (1.0, 0.5, 2.0))),
            ObservationTerm("projected_gravity", 3, 1.0),
            ObservationTerm("velocity_command", 3, 2.0),
            ObservationTerm("base_lin_vel", 3, 2.0, history=2),
            ObservationTerm("base_quat", 4, 1.0, params={"order": "xyzw", "unique": True}),
            ObservationTerm("base_euler", 3, 0.5, history=2),
            ObservationTerm("gait_phase", 2, 1.0, history=2, params={"period": 0.8, "offset": 0.25}),
            ObservationTerm(
                "height_scan",
                6,
                5.0,
                history=2,
                clip=(-1.0, 1.0),
                params={"points_x": [-0.1, 0.0, 0.1], "points_y": [-0.1, 0.1], "order": "yx", "offset": 0.4},
            ),
        ]
        assert {t.name for t in layout} == set(OBSERVATION_TERMS)  # a new term needs a line here
        default = np.array([0.1, -0.2, 0.3])
        builder = ObservationBuilder(layout, default, n_act, dt, frames=frames)
        assert builder.generic == []
        reference = ObservationHistory(layout, 1, frames)
        rng = np.random.default_rng(9)
        for k in range(50):
            if k == 20:  # a reset in the middle: both refill their history with the next frame
                builder.reset()
                reference.reset()
            q, qd, la = rng.normal(0, 2, n_joints), rng.normal(0, 5, n_joints), rng.uniform(-1, 1, n_act)
            gyro, quat, cmd = rng.normal(0, 1, 3), rng.normal(0, 1, 4), rng.uniform(-1, 1, 3)
            lin, scan = rng.normal(0, 1, 3), rng.normal(0.4, 0.6, 6)
            mine = builder.build(q, qd, la, gyro, quat, cmd, lin, scan).copy()
            builder.commit()
            unit = quat / np.linalg.norm(quat)
            t = np.array([(k if k < 20 else k - 20) * dt])
            inp = ObsInputs(
                q[None], qd[None], default, la[None], gyro[None], unit[None], cmd[None], lin[None], t, scan[None]
            )
            np.testing.assert_allclose(
                mine, build_observation(layout, inp, history=reference)[0], rtol=1e-12, atol=1e-12
            )

    def test_history_is_oldest_first_and_a_reset_fills_it_with_the_first_frame(self):
        builder = ObservationBuilder([ObservationTerm("joint_vel", 1, 2.0, history=3)], np.zeros(1), 1)
        assert builder.build(np.zeros(1), np.array([1.0]), np.zeros(1)).tolist() == [2.0, 2.0, 2.0]
        builder.commit()
        builder.build(np.zeros(1), np.array([5.0]), np.zeros(1))  # never committed (e.g. a NaN step)
        assert builder.build(np.zeros(1), np.array([2.0]), np.zeros(1)).tolist() == [2.0, 2.0, 4.0]
        builder.commit()
        builder.build(np.zeros(1), np.array([3.0]), np.zeros(1))
        builder.commit()
        assert builder.build(np.zeros(1), np.array([4.0]), np.zeros(1)).tolist() == [4.0, 6.0, 8.0]
        builder.reset()
        assert builder.build(np.zeros(1), np.array([-1.0]), np.zeros(1)).tolist() == [-2.0, -2.0, -2.0]

    def test_stacked_frames_are_oldest_first_and_zeros_after_a_reset(self):
        layout = [ObservationTerm("joint_vel", 1, 2.0), ObservationTerm("joint_pos", 1, 1.0)]
        builder = ObservationBuilder(layout, np.zeros(1), 1, frames=3)

        def build(k: float) -> list[float]:
            return builder.build(np.array([10.0 * k]), np.array([k]), np.zeros(1)).tolist()

        assert build(1) == [0.0, 0.0, 0.0, 0.0, 2.0, 10.0]
        builder.commit()
        build(5)  # never committed (e.g. a NaN step): not in the stack
        assert build(2) == [0.0, 0.0, 2.0, 10.0, 4.0, 20.0]
        builder.commit()
        for k in (3, 4):
            build(k)
            builder.commit()
        assert build(5) == [6.0, 30.0, 8.0, 40.0, 10.0, 50.0]
        builder.commit()
        builder.reset()
        assert build(7) == [0.0, 0.0, 0.0, 0.0, 14.0, 70.0]
        builder.commit()
        assert build(8) == [0.0, 0.0, 14.0, 70.0, 16.0, 80.0]

    def test_the_phase_clock_counts_committed_steps_from_the_reset(self):
        builder = ObservationBuilder(
            [ObservationTerm("gait_phase", 2, 1.0, params={"period": 0.8})], np.zeros(1), 1, control_dt=0.2
        )
        angles = []
        for _ in range(5):
            sin, cos = builder.build(np.zeros(1), np.zeros(1), np.zeros(1))
            builder.commit()
            angles.append(np.arctan2(sin, cos) % (2 * np.pi))
        np.testing.assert_allclose(angles, [0.0, np.pi / 2, np.pi, 3 * np.pi / 2, 0.0], atol=1e-12)

    def test_a_term_without_a_kernel_uses_its_term_function(self, monkeypatch):
        from sim2real.tasks import observations

        monkeypatch.setitem(observations.OBSERVATION_TERMS, "joint_speed_sq", lambda inp: inp.joint_vel**2)
        layout = [ObservationTerm("joint_speed_sq", 2, 3.0), ObservationTerm("joint_vel", 2, 1.0)]
        builder = ObservationBuilder(layout, np.zeros(2), 1)
        assert builder.generic == ["joint_speed_sq"]
        out = builder.build(np.zeros(2), np.array([2.0, -1.0]), np.zeros(1))
        np.testing.assert_allclose(out, [12.0, 3.0, 2.0, -1.0])

    def test_drift_from_the_term_functions_is_refused(self, monkeypatch):
        from sim2real.tasks import observations

        monkeypatch.setitem(observations.OBSERVATION_TERMS, "joint_vel", lambda inp: 2.0 * inp.joint_vel)
        with pytest.raises(PolicyError, match="'joint_vel' disagrees"):
            ObservationBuilder([ObservationTerm("joint_vel", 2, 1.0)], np.zeros(2), 1)


class TestProviders:
    def test_gpu_providers_first_cpu_last(self):
        available = [
            "AzureExecutionProvider",
            "CPUExecutionProvider",
            "CUDAExecutionProvider",
            "TensorrtExecutionProvider",
        ]
        assert select_providers("auto", available) == [
            "TensorrtExecutionProvider",
            "CUDAExecutionProvider",
            "CPUExecutionProvider",
        ]
        assert select_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
        assert select_providers("cpu", available) == ["CPUExecutionProvider"]
        assert select_providers(["CUDAExecutionProvider"], available) == [
            "CUDAExecutionProvider",
            "CPUExecutionProvider",
        ]

    def test_unavailable_provider_is_an_error(self):
        with pytest.raises(PolicyError, match="TensorrtExecutionProvider"):
            select_providers(["TensorrtExecutionProvider"], ["CPUExecutionProvider"])


@pytest.mark.parametrize("block_torch", [False, True])
def test_runtime_runs_without_torch(exported, block_torch):
    """A robot computer has numpy and onnxruntime only: the runtime never imports torch."""
    item = exported["furuta"]
    code = textwrap.dedent(
        f"""
        import sys
        if {block_torch}:
            sys.modules["torch"] = None  # any attempt to import torch now fails
        import numpy as np
        import sim2real.policy
        import sim2real.policy.metadata
        from sim2real.policy.runtime import PolicyRunner
        from sim2real.robots import load_robot
        runner = PolicyRunner({str(item.path)!r}, load_robot("furuta"))
        print(runner.step(np.zeros(2), np.zeros(2)).shape)
        print(sys.modules.get("torch", "absent"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["(1,)", "None" if block_torch else "absent"]


def test_every_embedded_robot_is_covered(exported):
    assert sorted(exported) == sorted(EMBEDDED)


def recurrent_policy(spec, path, gain):
    """A policy with a recurrent state: action_k = state_k = state_{k-1} + gain @ obs_k (no tanh)."""
    import dataclasses

    import onnx
    from onnx import TensorProto, helper

    from sim2real.policy.metadata import PolicyMetadata, RecurrentState, stamp_metadata

    n_obs, n_act = spec.n_obs, spec.n_actions
    meta = PolicyMetadata.from_spec(
        spec, action_scale=spec.action_scale, action_filter=1.0, task="locomotion"
    )
    meta = dataclasses.replace(meta, recurrent=(RecurrentState("h_in", "h_out", (1, n_act)),))
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["obs", "W"], ["z"], transB=1),
            helper.make_node("Add", ["z", "h_in"], ["action"]),
            helper.make_node("Identity", ["action"], ["h_out"]),
        ],
        "recurrent",
        [
            helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, n_obs]),
            helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, n_act]),
        ],
        [
            helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, n_act]),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, n_act]),
        ],
        [
            helper.make_tensor(
                "W", TensorProto.FLOAT, [n_act, n_obs], gain.astype(np.float32).ravel().tolist()
            )
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(stamp_metadata(model, meta))
    return path


class TestForeignPolicyMachinery:
    """Recurrent state, the action limit and clip, history across unusable steps."""

    @pytest.fixture
    def spec(self, tmp_path):
        return spec_copy(
            tmp_path,
            "quadruped",
            yaml_edit=(
                "action: {scale: 0.5, filter: 1.0}",
                "action: {scale: 0.5, filter: 1.0, limit: null, clip: {FL_thigh: [0.5, 1.0]}}",
            ),
        )

    def test_the_recurrent_state_is_carried_cleared_by_reset_and_kept_on_nan_input(self, spec, tmp_path):
        gain = np.zeros((12, spec.n_obs))
        gain[:, 6] = 1.0  # every action adds the velocity command's vx
        runner = PolicyRunner(recurrent_policy(spec, tmp_path / "r.onnx", gain), spec, providers="cpu")
        q, qd = spec.default_pose.copy(), np.zeros(12)
        gyro, quat = np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0])
        cmd = np.array([0.1, 0.0, 0.0])
        actions = []
        for _ in range(3):
            runner.step(q, qd, gyro, quat, cmd)
            actions.append(runner.action[0])
        np.testing.assert_allclose(actions, [0.1, 0.2, 0.3], atol=1e-6)  # no bound: the limit is null
        runner.step(q, qd, gyro, quat, np.array([np.nan, 0.0, 0.0]))
        assert not runner.last_input_finite
        runner.step(q, qd, gyro, quat, cmd)
        assert runner.action[0] == pytest.approx(0.4, abs=1e-6)  # the NaN step left the state as it was
        runner.reset()
        runner.step(q, qd, gyro, quat, cmd)
        assert runner.action[0] == pytest.approx(0.1, abs=1e-6)
        assert runner.infer(np.tile(runner.observation, (3, 1)))[:, 0] == pytest.approx(
            [0.1, 0.2, 0.3], abs=1e-6
        )

    def test_the_command_clip_and_unbounded_actions_match_the_training_mapping(self, spec, tmp_path):
        gain = np.zeros((12, spec.n_obs))
        gain[:, 6] = 30.0
        runner = PolicyRunner(recurrent_policy(spec, tmp_path / "r.onnx", gain), spec, providers="cpu")
        command = runner.step(
            spec.default_pose, np.zeros(12), np.zeros(3), np.array([1.0, 0, 0, 0]), np.array([0.1, 0, 0])
        )
        env = TaskEnv(spec, get_task(spec), 1, seed=0, nthread=1)
        np.testing.assert_allclose(command, env.action_to_command(runner.action[None])[0])
        assert command[1] == 1.0 and command[0] == pytest.approx(1.5)  # FL_thigh clipped; FL_hip 0 + 0.5 * 3

    def test_an_overflowing_network_gives_no_command_not_a_clipped_one(self, tmp_path):
        """Safety review 10: a network output of inf (float32 overflow) went through the action limit
        (an import's clip_actions, 100 here) as a full-scale command, every joint's finite, where a NaN
        output gives a NaN command the safety monitor holds on.  Now a non-finite output is NaN."""
        spec = spec_copy(
            tmp_path, "quadruped", yaml_edit=("action: {scale: 0.5, filter: 1.0}", "action: {scale: 0.5, filter: 1.0, limit: 100.0}")
        )
        gain = np.zeros((12, spec.n_obs))
        gain[:, 6:8] = 3.0e38  # times the velocity command's vx and vy: beyond float32
        runner = PolicyRunner(recurrent_policy(spec, tmp_path / "r.onnx", gain), spec, providers="cpu")
        command = runner.step(
            spec.default_pose, np.zeros(12), np.zeros(3), np.array([1.0, 0, 0, 0]), np.array([1.0, 1.0, 0])
        )
        assert runner.last_input_finite and np.isinf(runner.recurrent_state[0]).all()  # the network's output
        assert np.isnan(command).all(), command
