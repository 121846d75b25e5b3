"""`sim2real import legged-gym|isaaclab --policy model_<N>.pt`: rsl_rl training checkpoints.

The actor is rebuilt from the checkpoint's weights.  Real checkpoints of the installed rsl-rl-lib 5.x
come from its own OnPolicyRunner.save; rsl_rl 1.x / 2.x / 3.x ones are built with torch in their key
layouts (rsl_checkpoints.py).  Every import is checked against the actor computed with numpy from
the same weights (and, for rsl-rl-lib's, against rsl_rl's own inference output).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from foreign_fixtures import isaaclab_env_yaml, legged_gym_config
from rsl_checkpoints import (
    normalizer_state,
    numpy_actor,
    onnx_actions,
    rsl_rl_actions,
    save,
    v1_checkpoint,
    v5_checkpoint,
)

from sim2real.cli import main
from sim2real.errors import PolicyError
from sim2real.policy.imports.isaaclab import import_isaaclab
from sim2real.policy.imports.legged_gym import import_legged_gym
from sim2real.policy.imports.rsl_checkpoint import load_torch_policy
from sim2real.policy.metadata import read_metadata
from sim2real.robots import DATA_DIR, load_robot

torch = pytest.importorskip("torch", reason="rebuilding rsl_rl checkpoints needs the train extra (torch)")

QUADRUPED = DATA_DIR / "quadruped.xml"  # its motors state no effort limit: --torque-limit 23.7
ATOL = 1e-5


def observations(n_obs: int, rows: int = 40, seed: int = 1) -> np.ndarray:
    return (1.5 * np.random.default_rng(seed).standard_normal((rows, n_obs))).astype(np.float32)


def isaac_run(tmp_path, agent: dict) -> tuple:
    """An Isaac Lab run folder: RUN/params/env.yaml (the quadruped, 45 observations) and agent.yaml."""
    run = tmp_path / "logs" / "rsl_rl" / "quadruped_flat" / "2026-01-01_00-00-00"
    isaaclab_env_yaml(load_robot("quadruped"), run / "params" / "env.yaml", history=1)
    (run / "params" / "agent.yaml").write_text(yaml.safe_dump({"seed": 42, "clip_actions": None, **agent}))
    return run


# ------------------------------------------------------------------------ legged_gym (rsl_rl 1.x)
class TestLeggedGymCheckpoints:
    def test_an_rsl_rl_1x_checkpoint_imports_onto_the_h1(self, h1_dir, tmp_path, capsys):
        # legged_gym's logs/<exp>/<run>/model_1500.pt: it was refused as "not a TorchScript policy
        # (PytorchStreamReader failed locating file constants.pkl ...)"
        data = v1_checkpoint("1", 41, 10, [64, 32])
        path = save(data, tmp_path / "logs" / "h1" / "run" / "model_1500.pt")
        code = main(
            [
                "import", "legged-gym", "--policy", str(path), "--config", str(h1_dir / "deploy_mujoco_h1.yaml"),
                "--model", str(h1_dir / "scene.xml"), "--out", str(tmp_path / "h1"),
            ]
        )  # fmt: skip
        printed = capsys.readouterr()
        assert code == 0, printed.err
        assert "assumed: activation: elu between the actor's layers" in printed.out
        policy = tmp_path / "h1" / "policy.onnx"
        meta = read_metadata(policy)
        assert meta.n_obs == 41 and meta.n_act == 10 and not meta.recurrent
        assert meta.network["type"].startswith("rsl_rl checkpoint") and meta.network["iteration"] == 1500
        assert meta.network["sizes"] == [41, 64, 32, 10] and meta.export_check["max_abs_diff"] <= ATOL
        expected = numpy_actor(data["model_state_dict"], mlp="actor.", activation="elu")
        obs = observations(41)
        np.testing.assert_allclose(onnx_actions(policy, obs), expected(obs), atol=ATOL)

    def test_a_recurrent_checkpoint_keeps_its_lstm_state_on_the_h1(self, h1_dir, tmp_path):
        # legged_gym's ActorCriticRecurrent: memory_a.rnn (LSTM) -> actor; the H1's own motion.pt is one
        data = v1_checkpoint("1", 41, 10, [32], memory=("lstm", 16), seed=3)
        path = save(data, tmp_path / "model_300.pt")
        result = import_legged_gym(
            path, h1_dir / "deploy_mujoco_h1.yaml", h1_dir / "scene.xml", tmp_path / "h1", activation="tanh"
        )
        assert len(result.metadata.recurrent) == 2 and result.max_abs_diff <= ATOL
        assert not any("activation" in a for a in result.metadata.imported["assumptions"])
        expected = numpy_actor(
            data["model_state_dict"], mlp="actor.", activation="tanh", memory="memory_a.rnn."
        )
        obs = observations(41)
        np.testing.assert_allclose(onnx_actions(result.policy, obs), expected(obs), atol=ATOL)

    def test_an_rsl_rl_5_checkpoint_with_an_lstm_imports(self, tmp_path):
        actor = {
            "class_name": "rsl_rl.models:RNNModel", "hidden_dims": [16], "activation": "elu", "rnn_type": "lstm",
            "rnn_hidden_dim": 8, "obs_normalization": True,
            "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 1.0, "std_type": "log"},
        }  # fmt: skip
        data, model = v5_checkpoint(tmp_path / "run" / "model_2.pt", 48, 12, actor)
        assert "distribution.log_std_param" in data["actor_state_dict"]
        result = import_legged_gym(
            tmp_path / "run" / "model_2.pt",
            legged_gym_config(tmp_path),
            QUADRUPED,
            tmp_path / "out",
            torque_limit=23.7,
        )
        state = data["actor_state_dict"]
        norm = {k[len("obs_normalizer.") :]: v for k, v in state.items() if k.startswith("obs_normalizer.")}
        expected = numpy_actor(state, mlp="mlp.", activation="elu", normalizer=norm, memory="rnn.rnn.")
        obs = observations(48)
        mine = onnx_actions(result.policy, obs)
        np.testing.assert_allclose(mine, expected(obs), atol=ATOL)
        np.testing.assert_allclose(mine, rsl_rl_actions(model, obs), atol=ATOL)
        assert len(result.metadata.recurrent) == 2


# ---------------------------------------------------------------- Isaac Lab (rsl_rl 2.x - 5.x)
V1_CASES = {
    # rsl_rl 2.x: the runner's empirical normalization beside the model
    "2.x": (
        {"memory": None},
        {"empirical_normalization": True, "policy": {"class_name": "ActorCritic", "activation": "selu",
                                                     "actor_hidden_dims": [32, 32]}},
        "selu",
    ),
    # rsl_rl 3.x: the actor's normalizer in the model, a state-dependent std: (2, n) output, mean first
    "3.x state-dependent std": (
        {"memory": None, "state_dependent_std": True},
        {"policy": {"class_name": "ActorCritic", "activation": "tanh", "actor_hidden_dims": [32, 32],
                    "actor_obs_normalization": True, "state_dependent_std": True}},
        "tanh",
    ),
    # rsl_rl 3.x ActorCriticRecurrent: normalizer -> GRU -> actor
    "3.x GRU": (
        {"memory": ("gru", 16)},
        {"policy": {"class_name": "ActorCriticRecurrent", "activation": "elu", "actor_hidden_dims": [32, 32],
                    "actor_obs_normalization": True, "rnn_type": "gru", "rnn_hidden_dim": 16}},
        "elu",
    ),
}  # fmt: skip


class TestIsaacLabCheckpoints:
    @pytest.mark.parametrize("case", list(V1_CASES))
    def test_a_checkpoint_in_its_run_folder_imports_with_the_runs_env_and_agent_yaml(self, tmp_path, case):
        options, agent, activation = V1_CASES[case]
        version = case.split(".")[0]
        data = v1_checkpoint(version, 45, 12, [32, 32], seed=7, **options)
        run = isaac_run(tmp_path, agent)
        result = import_isaaclab(save(data, run / "model_1500.pt"), None, QUADRUPED, tmp_path / "out")
        state = data["model_state_dict"]
        norm = data.get("obs_norm_state_dict") or {
            k[len("actor_obs_normalizer.") :]: v
            for k, v in state.items()
            if k.startswith("actor_obs_normalizer.")
        }
        expected = numpy_actor(
            state,
            mlp="actor.",
            activation=activation,
            normalizer=norm or None,
            memory="memory_a.rnn." if options["memory"] else None,
            head=("first", 1.0, 0.0) if options.get("state_dependent_std") else None,
        )
        obs = observations(45)
        np.testing.assert_allclose(onnx_actions(result.policy, obs), expected(obs), atol=ATOL)
        imported = result.metadata.imported
        assert set(imported["files"]) == {"policy", "model", "deploy", "agent"}
        assert not any("activation" in a for a in imported["assumptions"])
        assert (
            result.metadata.network["normalizer"] is True
            and result.metadata.network["activation"] == activation
        )
        assert [a.torque_limit for a in result.spec.actuators] == [23.5] * 12  # env.yaml's, found next to it

    @pytest.mark.parametrize(
        ("distribution", "head"),
        [
            ({"class_name": "GaussianDistribution", "init_std": 1.0}, None),
            (
                {"class_name": "rsl_rl.modules:BetaDistribution", "action_range": [-0.5, 1.5]},
                ("beta", 2.0, -0.5),
            ),
            ({"class_name": "HeteroscedasticGaussianDistribution", "init_std": 1.0}, ("first", 1.0, 0.0)),
        ],
    )
    def test_an_rsl_rl_5_checkpoint_gives_its_distributions_mean(self, tmp_path, distribution, head):
        actor = {
            "class_name": "rsl_rl.models:MLPModel", "hidden_dims": [16, 16], "activation": "tanh",
            "obs_normalization": True, "distribution_cfg": distribution,
        }  # fmt: skip
        run = isaac_run(tmp_path, {"actor": {k: v for k, v in actor.items() if k != "class_name"}})
        data, model = v5_checkpoint(run / "model_2.pt", 45, 12, actor)
        result = import_isaaclab(run / "model_2.pt", None, QUADRUPED, tmp_path / "out")
        state = data["actor_state_dict"]
        norm = {k[len("obs_normalizer.") :]: v for k, v in state.items() if k.startswith("obs_normalizer.")}
        expected = numpy_actor(state, mlp="mlp.", activation="tanh", normalizer=norm, head=head)
        obs = observations(45)
        mine = onnx_actions(result.policy, obs)
        np.testing.assert_allclose(mine, expected(obs), atol=ATOL)
        np.testing.assert_allclose(mine, rsl_rl_actions(model, obs), atol=ATOL)
        assert result.metadata.network["output"] == ("identity" if head is None else head[0])

    def test_an_agent_yaml_stating_the_actor_as_the_deprecated_policy_section_is_read(self, tmp_path):
        # Isaac Lab accepts rsl_rl <= 3's `policy:` config with rsl_rl >= 4 and converts it
        actor = {
            "class_name": "rsl_rl.models:MLPModel", "hidden_dims": [16, 16], "activation": "selu",
            "obs_normalization": True, "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 1.0},
        }  # fmt: skip
        policy = {"activation": "selu", "actor_hidden_dims": [16, 16], "actor_obs_normalization": True}
        (tmp_path / "params").mkdir()
        (tmp_path / "params" / "agent.yaml").write_text(yaml.safe_dump({"policy": policy}))
        data, model = v5_checkpoint(tmp_path / "model_2.pt", 45, 12, actor)
        loaded = load_torch_policy(tmp_path / "model_2.pt")
        assert not loaded.assumptions and loaded.network["activation"] == "selu" and "agent" in loaded.files
        state = data["actor_state_dict"]
        norm = {k[len("obs_normalizer.") :]: v for k, v in state.items() if k.startswith("obs_normalizer.")}
        obs = observations(45)
        expected = numpy_actor(state, mlp="mlp.", activation="selu", normalizer=norm)(obs)
        np.testing.assert_allclose(loaded.reference(obs), expected, atol=ATOL)
        np.testing.assert_allclose(expected, rsl_rl_actions(model, obs), atol=ATOL)

    def test_a_state_dependent_gaussian_stated_in_the_distribution_cfg_gives_row_0(self, tmp_path):
        # rsl_rl 5.0 wrote GaussianDistribution(state_dependent_std=True): no std parameter, (2, n) output
        gen = torch.Generator().manual_seed(5)
        state = {
            "mlp.0.weight": torch.randn(16, 45, generator=gen) / 7, "mlp.0.bias": torch.randn(16, generator=gen),
            "mlp.2.weight": torch.randn(24, 16, generator=gen) / 4, "mlp.2.bias": torch.randn(24, generator=gen),
        }  # fmt: skip
        dist = {"class_name": "GaussianDistribution", "state_dependent_std": True}
        (tmp_path / "params").mkdir()
        (tmp_path / "params" / "agent.yaml").write_text(yaml.safe_dump({"actor": {"distribution_cfg": dist}}))
        loaded = load_torch_policy(save({"actor_state_dict": state, "iter": 5}, tmp_path / "model_5.pt"))
        obs = observations(45)
        expected = numpy_actor(state, mlp="mlp.", activation="elu", head=("first", 1.0, 0.0))(obs)
        np.testing.assert_allclose(loaded.reference(obs), expected, atol=ATOL)
        assert expected.shape == (40, 12)
        (tmp_path / "params" / "agent.yaml").write_text(yaml.safe_dump({"actor": {}}))
        with pytest.raises(PolicyError, match="keeps no action noise"):
            load_torch_policy(tmp_path / "model_5.pt")

    def test_the_parity_reference_is_the_rebuilt_actor_evaluated_with_torch(self, tmp_path):
        data = v1_checkpoint("3", 45, 12, [32], seed=11, memory=("lstm", 8))
        loaded = load_torch_policy(save(data, tmp_path / "model_9.pt"), activation="relu")
        state = data["model_state_dict"]
        norm = {
            k[len("actor_obs_normalizer.") :]: v
            for k, v in state.items()
            if k.startswith("actor_obs_normalizer.")
        }
        expected = numpy_actor(
            state, mlp="actor.", activation="relu", normalizer=norm, memory="memory_a.rnn."
        )
        obs = observations(45)
        np.testing.assert_allclose(loaded.reference(obs), expected(obs), atol=ATOL)
        assert len(loaded.recurrent) == 2


# --------------------------------------------------------------------------------- refusals
def _estimator(data):
    data["estimator_state_dict"] = {"0.weight": torch.zeros(3, 3)}
    return data


def _unknown_part(data):
    data["model_state_dict"]["estimator.0.weight"] = torch.zeros(3, 48)
    return data


def _unknown_normalizer(data):
    data["model_state_dict"]["actor_obs_normalizer.clip"] = torch.tensor(5.0)
    return data


def _two_normalizers(data):
    data["obs_norm_state_dict"] = normalizer_state(torch, torch.Generator().manual_seed(0), 48)
    return data


def _distillation(data):
    return {"student_state_dict": data["model_state_dict"], "teacher_state_dict": {}, "iter": 3}


def _bidirectional(data):
    data["model_state_dict"]["memory_a.rnn.weight_ih_l0_reverse"] = torch.zeros(64, 48)
    return data


def _not_rsl_rl(data):
    return {"policy": data["model_state_dict"], "epoch": 3}


class TestRefusals:
    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (_not_rsl_rl, "model_1500.pt: a torch.save'd dict with keys policy, epoch: not an rsl_rl checkpoint"),
            (_estimator, "model_1500.pt has 'estimator_state_dict' beside the actor (model_state_dict), which the "
                         "rebuild would not use"),
            (_unknown_part, "weights the rebuild would not use: estimator.0.weight"),
            (_unknown_normalizer, "the actor's observation normalizer has _mean, _var, _std, count, clip"),
            (_two_normalizers, "has two actor normalizers: 'obs_norm_state_dict' and 'actor_obs_normalizer.*'"),
            (_distillation, "a distillation checkpoint (student and teacher)"),
            (_bidirectional, "'memory_a.rnn.weight_ih_l0_reverse': a bidirectional or projected recurrent memory"),
        ],
    )  # fmt: skip
    def test_what_the_rebuild_cannot_take_whole_is_one_line(self, tmp_path, capsys, edit, message):
        data = edit(v1_checkpoint("3", 48, 12, [32]))
        path = save(data, tmp_path / "model_1500.pt")
        self._refused(tmp_path, capsys, path, message)

    def test_a_3x_actor_without_std_whose_agent_yaml_denies_a_state_dependent_std(self, tmp_path, capsys):
        path = save(v1_checkpoint("3", 48, 12, [32], state_dependent_std=True), tmp_path / "model_1500.pt")
        (tmp_path / "params").mkdir()
        (tmp_path / "params" / "agent.yaml").write_text(
            yaml.safe_dump({"policy": {"state_dependent_std": False}})
        )
        self._refused(tmp_path, capsys, path, "says state_dependent_std false")

    def test_files_that_are_no_checkpoint_say_what_they_are(self, tmp_path, capsys):
        junk = tmp_path / "notes.pt"
        junk.write_text("kps: [1, 2]\n")
        self._refused(
            tmp_path, capsys, junk, "notes.pt: neither a TorchScript policy nor a torch.save'd checkpoint"
        )
        pickled = save({"policy": torch.nn.Linear(48, 12)}, tmp_path / "module.pt")
        self._refused(tmp_path, capsys, pickled, "a Python object (torch.nn.modules.linear.Linear)")

    def test_a_v5_actor_without_action_noise_needs_its_agent_yaml(self, tmp_path, capsys):
        # a Beta and a state-dependent Gaussian both keep no parameter and give a (2, n) output
        actor = {
            "class_name": "rsl_rl.models:MLPModel", "hidden_dims": [8], "activation": "elu",
            "distribution_cfg": {"class_name": "BetaDistribution"},
        }  # fmt: skip
        v5_checkpoint(tmp_path / "model_2.pt", 48, 12, actor)
        capsys.readouterr()
        self._refused(
            tmp_path, capsys, tmp_path / "model_2.pt", "the run's params/agent.yaml (actor.distribution_cfg)"
        )

    def test_activation_conflicts_are_one_line(self, tmp_path, capsys):
        run = isaac_run(tmp_path, {"policy": {"activation": "elu", "actor_hidden_dims": [64, 64]}})
        path = save(v1_checkpoint("2", 45, 12, [32, 32]), run / "model_1500.pt")
        message = "policy.actor_hidden_dims [64, 64], but the checkpoint's actor has hidden layers [32, 32]"
        self._refused(tmp_path, capsys, path, message, framework="isaaclab")
        (run / "params" / "agent.yaml").write_text(yaml.safe_dump({"policy": {"activation": "elu"}}))
        self._refused(
            tmp_path, capsys, path, "--activation tanh, but the run's", ["--activation", "tanh"], "isaaclab"
        )
        self._refused(
            tmp_path, capsys, path, "--activation crelu is ReLU in rsl_rl 1.x", ["--activation", "crelu"]
        )

    @staticmethod
    def _refused(tmp_path, capsys, policy, message, extra=(), framework="legged-gym"):
        args = [
            "import",
            framework,
            "--policy",
            str(policy),
            "--model",
            str(QUADRUPED),
            "--out",
            str(tmp_path / "x"),
        ]
        if framework == "legged-gym":
            args += ["--config", str(legged_gym_config(tmp_path)), "--torque-limit", "23.7"]
        code = main([*args, *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code != 0 and len(err) == 1, err
        assert err[0].startswith("sim2real: error:") and message in err[0], err[0]
        assert not (tmp_path / "x" / "policy.onnx").exists()


def test_json_summary_names_the_checkpoint(tmp_path, capsys):
    path = save(v1_checkpoint("1", 48, 12, [16]), tmp_path / "model_7.pt")
    code = main(
        [
            "import", "legged-gym", "--policy", str(path), "--config", str(legged_gym_config(tmp_path)),
            "--model", str(QUADRUPED), "--out", str(tmp_path / "out"), "--torque-limit", "23.7",
            "--activation", "relu", "--json",
        ]
    )  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary
    meta = read_metadata(tmp_path / "out" / "policy.onnx")
    assert meta.network["activation"] == "relu" and meta.imported["files"]["policy"]["name"] == "model_7.pt"
    scripted = tmp_path / "policy.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(48, 12))).save(str(scripted))
    with pytest.raises(PolicyError, match="--activation is for training checkpoints"):
        load_torch_policy(scripted, activation="elu")
