"""Bad input to `sim2real import`: one error line naming the file (or key) and the fix, exit 1, and
nothing left in --out (a failed import removes what it wrote, never the user's files).

A legged_gym TorchScript MLP on the embedded quadruped and an mjlab ONNX (a Gemm made with
onnx.helper, its metadata varied) keep each case well under a second: every error comes before
the parity check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from foreign_fixtures import legged_gym_config
from onnx import TensorProto, helper, numpy_helper

from sim2real.cli import main
from sim2real.robots import DATA_DIR, load_robot

torch = pytest.importorskip("torch", reason="importing TorchScript policies needs the train extra (torch)")

QUADRUPED = DATA_DIR / "quadruped.xml"
NAN = float("nan")


def _mlp(path: Path, n_obs: int = 48, n_act: int = 12) -> Path:
    """A scripted MLP (legged_gym's export)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(n_obs, 16), torch.nn.ELU(), torch.nn.Linear(16, n_act))
    torch.jit.script(net).save(str(path))
    return path


def _mjlab(path: Path, nan: bool = False, **changes: str) -> Path:
    """An mjlab ONNX (obs 45 -> actions 12, a Gemm) with its metadata, ``changes`` replacing keys;
    with ``nan`` its first action is NaN (the parity check fails, after robot.yaml was written)."""
    spec = load_robot("quadruped")
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["obs", "w", "b"], ["actions"], transB=1)],
        "policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, 45])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, 12])],
        [
            numpy_helper.from_array(0.01 * rng.standard_normal((12, 45)).astype(np.float32), "w"),
            numpy_helper.from_array(np.array([NAN if nan else 0.0] + [0.0] * 11, np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    meta = {
        "joint_names": ",".join(spec.joints),
        "joint_stiffness": ",".join(["25.0"] * 12),
        "joint_damping": ",".join(["0.5"] * 12),
        "default_joint_pos": ",".join(f"{x:.3f}" for x in spec.default_pose),
        "command_names": "twist",
        "observation_names": "base_ang_vel,projected_gravity,joint_pos,joint_vel,actions,command",
        "action_scale": "0.5",
        **changes,
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def _run(args: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(args)
    err = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.strip() and not line.startswith("importing")
    ]
    assert len(err) == 1, err
    return code, err[0]


def _legged(
    tmp_path: Path, config: Path, model: Path = QUADRUPED, out: Path | None = None, policy=None
) -> list[str]:
    return [
        "import", "legged-gym", "--policy", str(policy or _mlp(tmp_path / "policy.pt")), "--config", str(config),
        "--model", str(model), "--out", str(out or tmp_path / "out"), "--torque-limit", "23.7",
    ]  # fmt: skip


class TestLeggedGymConfig:
    @pytest.mark.parametrize(
        ("changes", "words"),
        [
            ({"dof_vel_scale": NAN}, ("deploy.yaml: 'dof_vel_scale' must be a finite number",)),
            (
                {"cmd_scale": [2.0, NAN, 0.25]},
                ("deploy.yaml: cmd_scale is NaN (value 2 of 3)", "fix the file"),
            ),
            ({"action_scale": float("inf")}, ("deploy.yaml: action_scale is infinite",)),
            ({"kps": [25.0] * 11 + [-25.0]}, ("deploy.yaml: kps is negative (-25, value 12 of 12)",)),
            ({"kps": [25.0] * 11 + [0.0]}, ("deploy.yaml: kps is zero",)),
            ({"kds": [0.5] * 11 + [-0.5]}, ("deploy.yaml: kds is negative",)),
            ({"kds": -0.5}, ("deploy.yaml: kds is negative (-0.5); fix the file",)),  # one number: its bracket closed
        ],
    )
    def test_a_bad_number_names_the_key_and_nothing_is_written(self, tmp_path, capsys, changes, words):
        # before: NaN scales read "robot.yaml: observation.joint_vel.scale is NaN" (a file the user
        # never gave, left in --out); a negative kp leaked a numpy RuntimeWarning first
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            code, line = _run(_legged(tmp_path, legged_gym_config(tmp_path, **changes)), capsys)
        assert code == 1 and line.startswith("sim2real: error: "), line
        for word in words:
            assert word in line, (word, line)
        assert not (tmp_path / "out").exists()


class TestModelAndOut:
    def test_a_scene_without_the_robot(self, tmp_path, capsys):
        scene = tmp_path / "floor.xml"
        scene.write_text('<mujoco><worldbody><geom type="plane" size="1 1 .1"/></worldbody></mujoco>')
        code, line = _run(_legged(tmp_path, legged_gym_config(tmp_path), model=scene), capsys)
        assert code == 1 and "floor.xml: the model has no named hinge or slide joint" in line, line
        assert "a scene that includes it" in line

    def test_a_missing_model(self, tmp_path, capsys):
        code, line = _run(_legged(tmp_path, legged_gym_config(tmp_path), model=tmp_path / "nope.xml"), capsys)
        assert code == 1 and f"--model {tmp_path / 'nope.xml'} does not exist" in line, line

    def test_out_is_a_file(self, tmp_path, capsys):
        (tmp_path / "x.txt").write_text("mine")
        code, line = _run(_legged(tmp_path, legged_gym_config(tmp_path), out=tmp_path / "x.txt"), capsys)
        assert code == 1 and "x.txt is a file; give the path of a folder" in line, line  # was "File exists"

    def test_out_holding_a_spec_is_refused_and_left_alone(self, tmp_path, capsys):
        out = tmp_path / "out"
        out.mkdir()
        (out / "robot.yaml").write_text("# edited by hand\n")
        code, line = _run(_legged(tmp_path, legged_gym_config(tmp_path), out=out), capsys)
        assert code == 1 and "robot.yaml exists already" in line and "another --out" in line, line
        assert sorted(p.name for p in out.iterdir()) == ["robot.yaml"]
        assert (out / "robot.yaml").read_text() == "# edited by hand\n"


class TestMjlabMetadata:
    @pytest.mark.parametrize(
        ("changes", "words"),
        [
            ({"action_scale": "nan"}, ("ONNX metadata action_scale is NaN",)),
            ({"joint_stiffness": ",".join(["25.0"] * 11 + ["-1.0"])}, ("joint_stiffness is negative",)),
            (
                {"joint_names": ",".join(["FL_hip"] * 12)},
                ("policy.onnx: the ONNX metadata joint_names names 'FL_hip' 12 times",),
            ),
        ],
    )
    def test_a_bad_entry_is_one_line_and_nothing_is_written(self, tmp_path, capsys, changes, words):
        policy = _mjlab(tmp_path / "policy.onnx", **changes)
        args = ["import", "isaaclab", "--policy", str(policy), "--model", str(QUADRUPED), "--out", str(tmp_path / "out"),
                "--torque-limit", "23.7"]  # fmt: skip
        code, line = _run(args, capsys)
        assert code == 1, line
        for word in words:
            assert word in line, (word, line)
        assert not (tmp_path / "out").exists()

    def test_the_good_file_imports(self, tmp_path, capsys):
        """The cases above differ from a file that imports only in the entry they change."""
        policy = _mjlab(tmp_path / "policy.onnx")
        args = ["import", "isaaclab", "--policy", str(policy), "--model", str(QUADRUPED), "--out", str(tmp_path / "out"),
                "--torque-limit", "23.7"]  # fmt: skip
        assert main(args) == 0
        assert (tmp_path / "out" / "policy.onnx").is_file()

    def test_a_late_failure_removes_what_it_wrote_and_keeps_the_users_files(self, tmp_path, capsys):
        # the parity check fails after robot.yaml and the randomization files were written (they
        # were left in --out before)
        out = tmp_path / "out"
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        policy = _mjlab(tmp_path / "policy.onnx", nan=True)
        args = ["import", "isaaclab", "--policy", str(policy), "--model", str(QUADRUPED), "--out", str(out),
                "--torque-limit", "23.7"]  # fmt: skip
        code, line = _run(args, capsys)
        assert code == 1 and "parity check failed" in line, line
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


class TestGraphWidths:
    @pytest.mark.parametrize("width", ["n", 0])
    def test_a_dynamic_or_zero_observation_width(self, tmp_path, capsys, width):
        # was "the observation and action sizes are not fixed in the graph" (no value, no fix)
        path = _mjlab(tmp_path / "policy.onnx")
        model = onnx.load(str(path))
        dim = model.graph.input[0].type.tensor_type.shape.dim[1]
        if isinstance(width, str):
            dim.ClearField("dim_value")
            dim.dim_param = width
        else:
            dim.dim_value = width
        onnx.save(model, str(path))
        args = [
            "import",
            "isaaclab",
            "--policy",
            str(path),
            "--model",
            str(QUADRUPED),
            "--out",
            str(tmp_path / "out"),
        ]
        code, line = _run(args, capsys)
        assert code == 1 and f"policy.onnx: the graph's observation width is {width!r}" in line, line
        assert "export it with a fixed observation width" in line


class Summed(torch.nn.Module):
    """A TorchScript module that is no policy (no actor, no weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=-1)


class TestPolicyFile:
    def test_a_torchscript_file_that_is_no_policy_names_the_file(self, tmp_path, capsys):
        policy = tmp_path / "sum.pt"
        torch.jit.script(Summed()).save(str(policy))
        code, line = _run(_legged(tmp_path, legged_gym_config(tmp_path), policy=policy), capsys)
        assert code == 1 and "sum.pt: the TorchScript policy 'Summed' has no 'actor' or 'mlp'" in line, line
        assert not (tmp_path / "out").exists()
