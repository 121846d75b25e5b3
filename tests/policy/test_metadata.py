"""Policy metadata: round trip, what an exported file carries, and what is refused."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import sim2real
from sim2real.errors import PolicyError
from sim2real.policy.metadata import FORMAT, PolicyMetadata, read_metadata
from sim2real.robots import load_robot
from sim2real.tasks import get_task

REQUIRED_KEYS = {
    "format",
    "sim2real_version",
    "robot",
    "spec_hash",
    "joint_names",
    "actuated_joints",
    "default_pose",
    "observation",
    "n_obs",
    "n_act",
    "action_scale",
    "action_filter",
    "action_offset",
    "spec_files",
    "model_overrides",
    "actuators",
    "command_limits",
    "control_dt",
    "task",
    "randomization",
    "network",
    "training",
    "export_check",
    "action_clip",
    "action_limit",
    "recurrent",
    "motor_order",
}


def make_meta(name: str = "quadruped") -> PolicyMetadata:
    spec = load_robot(name)
    task = get_task(name)
    return PolicyMetadata.from_spec(
        spec,
        action_scale=task.action_scale,
        action_filter=task.action_filter,
        task=task.name,
        randomization={"summary": {"body.base.mass": {"low": np.float64(5.9), "high": 9.9}}, "stage": None},
        network={"hidden": (32, 32)},
        training={"iteration": np.int64(3), "reward": np.array([1.0, 2.0])},
    )


class TestRoundTrip:
    @pytest.mark.parametrize("name", ["pendulum", "furuta", "quadruped"])
    def test_props_round_trip_every_field(self, name):
        meta = make_meta(name)
        back = PolicyMetadata.from_props(meta.to_props())
        for f in dataclasses.fields(PolicyMetadata):
            assert getattr(back, f.name) == getattr(meta, f.name), f.name
        assert np.array_equal(back.command_offset, meta.command_offset)

    def test_every_value_is_json_and_every_key_is_there(self):
        props = make_meta().to_props()
        assert set(props) == REQUIRED_KEYS
        values = {k: json.loads(v) for k, v in props.items()}
        assert values["format"] == FORMAT
        assert values["training"] == {"iteration": 3, "reward": [1.0, 2.0]}
        assert values["randomization"]["summary"]["body.base.mass"] == {"low": 5.9, "high": 9.9}

    def test_stacked_frames_round_trip_and_files_without_them_read_one(self):
        meta = dataclasses.replace(make_meta(), frame_stack=15)
        props = meta.to_props()
        back = PolicyMetadata.from_props(props)
        assert back.frame_stack == 15 and back.n_obs == 15 * make_meta().n_obs == json.loads(props["n_obs"])
        assert "frame_stack" not in make_meta().to_props() and make_meta().frame_stack == 1
        props["frame_stack"] = "0"
        with pytest.raises(PolicyError, match="empty observation: 6 terms x frame_stack 0 frames"):
            PolicyMetadata.from_props(props)

    def test_command_limits_per_actuator_model(self):
        limits = {
            n: json.loads(make_meta(n).to_props()["command_limits"])
            for n in ("pendulum", "furuta", "quadruped")
        }
        assert limits["pendulum"] == [[-12.0, 12.0]]  # torque [N m]
        assert limits["furuta"] == [[-10.0, 10.0]]  # voltage [V]
        assert limits["quadruped"] == [[None, None]] * 12  # pd targets: unbounded


class TestExportedFile:
    @pytest.mark.parametrize("name", ["pendulum", "furuta", "quadruped"])
    def test_file_carries_what_deployment_needs(self, exported, name):
        item = exported[name]
        spec, task = item.spec, get_task(name)
        meta = read_metadata(item.path)
        assert meta.spec_hash == spec.hash and meta.robot == name
        assert meta.joint_names == spec.joints and meta.actuated_joints == spec.actuated_joints
        assert meta.observation == spec.observation
        assert meta.default_pose == tuple(spec.default_pose)
        assert meta.actuators == spec.actuators  # models, PD gains, motor constants, limits
        assert meta.action_scale == task.action_scale and meta.action_filter == task.action_filter
        assert meta.control_dt == spec.control_dt
        assert meta.randomization == item.run.metadata["randomization"]
        assert meta.training["iteration"] == 3 and meta.training["seed"] == 0
        assert meta.network["hidden"] == [32, 32]
        assert meta.sim2real_version == sim2real.__version__

    def test_standard_onnx_tools_read_the_same_metadata(self, exported):
        import onnx

        item = exported["quadruped"]
        props = {p.key: p.value for p in onnx.load(str(item.path)).metadata_props}
        assert json.loads(props["spec_hash"]) == item.spec.hash
        assert json.loads(props["joint_names"]) == list(item.spec.joints)
        assert json.loads(props["action_scale"]) == list(get_task("quadruped").action_scale)
        assert [t["name"] for t in json.loads(props["observation"])][:2] == [
            "base_ang_vel",
            "projected_gravity",
        ]
        assert set(props) == REQUIRED_KEYS | {"content_sha256"}


class TestRefused:
    def test_model_without_our_metadata(self):
        with pytest.raises(PolicyError, match="without sim2real policy metadata"):
            PolicyMetadata.from_props({"author": '"someone"'})

    def test_other_format_version(self):
        props = make_meta().to_props()
        props["format"] = json.dumps("sim2real-policy/99")
        with pytest.raises(PolicyError, match="not supported"):
            PolicyMetadata.from_props(props)

    def test_missing_entry_is_named(self):
        props = make_meta().to_props()
        del props["action_filter"]
        with pytest.raises(PolicyError, match="no 'action_filter' entry"):
            PolicyMetadata.from_props(props)

    def test_inconsistent_entries(self):
        props = make_meta().to_props()
        props["action_scale"] = json.dumps([0.25] * 11)
        with pytest.raises(PolicyError, match="11 action scales for 12 actuators"):
            PolicyMetadata.from_props(props)

    def test_malformed_json(self):
        props = make_meta().to_props()
        props["joint_names"] = "[FL_hip"
        with pytest.raises(PolicyError, match="'joint_names' is not valid JSON"):
            PolicyMetadata.from_props(props)


class TestDifferences:
    def test_names_what_differs(self):
        differences = make_meta("pendulum").differences(load_robot("furuta"))
        text = "\n".join(differences)
        assert "robot name" in text and "joint names" in text and "observation layout" in text

    def test_a_policy_that_stacks_frames_differs_from_a_spec_that_does_not(self):
        differences = dataclasses.replace(make_meta("furuta"), frame_stack=3).differences(load_robot("furuta"))
        assert differences == ["observation frames stacked (frame_stack): policy 3 vs robot 1"]

    def test_same_spec_has_no_differences(self):
        assert make_meta("furuta").differences(load_robot("furuta")) == []
