"""load_spec rejects bad spec files with a SpecError that names the problem."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sim2real.errors import SpecError
from sim2real.robots import DATA_DIR, load_spec

PENDULUM_YAML = DATA_DIR / "pendulum.yaml"
PENDULUM_XML = DATA_DIR / "pendulum.xml"

Mutator = Callable[[dict], None]


@pytest.fixture
def base_spec() -> dict:
    """The embedded pendulum's spec as a mapping."""
    return yaml.safe_load(PENDULUM_YAML.read_text())


@pytest.fixture
def write_spec(tmp_path: Path, base_spec: dict) -> Callable[[Mutator | None], Path]:
    """Write a variant of the pendulum spec next to a copy of its MJCF; return the YAML path."""
    shutil.copy(PENDULUM_XML, tmp_path / "pendulum.xml")

    def write(mutate: Mutator | None = None) -> Path:
        raw = copy.deepcopy(base_spec)
        if mutate is not None:
            mutate(raw)
        path = tmp_path / "robot.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return write


def _set(*keys_and_value):
    """A mutator setting raw[k1][k2]... = value."""
    *keys, value = keys_and_value

    def mutate(raw: dict) -> None:
        node = raw
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return mutate


def _delete(*keys):
    def mutate(raw: dict) -> None:
        node = raw
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return mutate


def _rename_joint(raw: dict) -> None:
    """Call the joint 'knee' everywhere: consistent YAML, but the MJCF has no such joint."""
    raw["joints"] = ["knee"]
    for section in (raw["default_pose"], raw["actuators"]):
        section["knee"] = section.pop("hinge")
    for key in ("joint_position", "joint_velocity", "joint_torque"):
        raw["safety"][key]["knee"] = raw["safety"][key].pop("hinge")


def _pd_without_kp(raw: dict) -> None:
    raw["actuators"]["hinge"] = {"actuator": "motor", "model": "pd", "kd": 0.1, "torque_limit": 2.0}


def _tilt_on_fixed_base(raw: dict) -> None:
    raw["safety"]["tilt"] = 0.5


class TestValidSpec:
    def test_unmodified_copy_loads(self, write_spec):
        spec = load_spec(write_spec())
        assert spec.name == "pendulum"
        assert spec.joints == ("hinge",)

    def test_safe_mode_damping_is_one_gain_or_one_per_actuated_joint(self, write_spec):
        assert load_spec(write_spec(_set("safety", "damping", 0.25))).safety.damping.tolist() == [0.25]
        assert load_spec(write_spec(_set("safety", "damping", {"hinge": 0.75}))).safety.damping.tolist() == [0.75]

    def test_observation_sizes_may_be_left_out(self, write_spec):
        def drop_sizes(raw: dict) -> None:
            for term in raw["observation"]:
                del term["size"]

        spec = load_spec(write_spec(drop_sizes))
        assert [t.size for t in spec.observation] == [2, 1, 1]

    def test_action_offset_defaults_to_zero_for_torque_and_takes_per_joint_values(self, write_spec):
        assert load_spec(write_spec()).action_offset.tolist() == [0.0]
        spec = load_spec(write_spec(_set("action", {"scale": {"hinge": 1.5}, "offset": {"hinge": 0.1}})))
        assert (spec.action_scale.tolist(), spec.action_offset.tolist(), spec.action_filter) == ([1.5], [0.1], 1.0)

    def test_observation_terms_take_history_clip_per_value_scale_and_parameters(self, write_spec):
        def policy_keys(raw: dict) -> None:
            raw["observation"][0] = {"name": "joint_pos_sincos", "scale": [1.0, 0.5], "history": 3, "clip": [-0.9, 0.9]}
            raw["observation"][1]["clip"] = [[-2.0], [2.0]]
            raw["observation"].append({"name": "gait_phase", "params": {"period": 0.8}})

        spec = load_spec(write_spec(policy_keys))
        sincos, vel, phase = spec.observation[0], spec.observation[1], spec.observation[-1]
        assert (sincos.scale, sincos.history, sincos.clip, sincos.width) == ((1.0, 0.5), 3, (-0.9, 0.9), 6)
        assert vel.clip == (-2.0, 2.0) and dict(phase.params) == {"period": 0.8, "offset": 0.0}
        assert spec.n_obs == 6 + 1 + 1 + 2
        stacked = load_spec(write_spec(lambda raw: (policy_keys(raw), raw.update(frame_stack=4))))
        assert stacked.frame_stack == 4 and stacked.n_obs == 4 * (6 + 1 + 1 + 2)

    def test_action_clip_limit_motor_order_and_armature(self, write_spec):
        def policy_keys(raw: dict) -> None:
            raw["action"] = {"scale": 2.0, "clip": {"hinge": [-1.0, 1.5]}, "limit": None}
            raw["motor_order"] = ["hinge"]
            raw["armature"] = {"hinge": 0.02}

        spec = load_spec(write_spec(policy_keys))
        assert (spec.action_clip_low.tolist(), spec.action_clip_high.tolist()) == ([-1.0], [1.5])
        assert spec.action_limit is None and spec.motors == ("hinge",) and dict(spec.armature) == {"hinge": 0.02}
        assert any("joint armature" in o and "hinge" in o for o in spec.overrides)
        from sim2real.robots.model import build_model

        assert build_model(spec).dof_armature[0] == pytest.approx(0.02)
        assert load_spec(write_spec()).action_limit == 1.0  # sim2real's own tanh policies

    def test_a_motor_order_keeps_empty_slots(self, write_spec):
        spec = load_spec(write_spec(_set("motor_order", ["-", "hinge", "-"])))
        assert spec.motor_order == ("-", "hinge", "-") and spec.motors == ("hinge",) and spec.empty_slots == (0, 2)

    def test_imu_site_added_to_a_body_is_recorded_as_an_override(self, write_spec):
        spec = load_spec(write_spec(_set("sensors", "imu", {"site": "imu", "add_to": "pole", "pos": [0, 0, 0.1]})))
        assert any("adds site 'imu' to body 'pole'" in o for o in spec.overrides)
        assert spec.sensor_name("imu.gyro") == "imu_gyro"


BAD_SPECS = {
    "missing MJCF file": (_set("mjcf", "nowhere.xml"), r"MJCF file not found: .*nowhere\.xml"),
    "frame stack of no frames": (_set("frame_stack", 0), r"frame_stack must be a positive number of observation frames"),
    "unknown joint name": (_rename_joint, r"joint 'knee' is not in pendulum\.xml"),
    "unknown joint in a per-joint map": (
        _set("default_pose", "elbow", 0.0),
        r"default_pose: unknown joint 'elbow'",
    ),
    "actuator not in the MJCF": (
        _set("actuators", "hinge", "actuator", "servo"),
        r"actuator 'servo'.* not in",
    ),
    "default pose outside safety limits": (
        _set("default_pose", "hinge", 25.0),
        r"default_pose\.hinge = 25\.0 lies outside safety\.joint_position",
    ),
    "safety low above high": (
        _set("safety", "joint_position", "hinge", [5.0, -5.0]),
        r"safety\.joint_position\.hinge: low 5\.0 is not below high -5\.0",
    ),
    "safe-mode damping of an unknown joint": (
        _set("safety", "damping", {"hinge": 0.5, "elbow": 0.5}),
        r"safety\.damping: unknown joint 'elbow'",
    ),
    "safe-mode damping map without an actuated joint": (
        _set("safety", "damping", {}),
        r"safety\.damping: missing actuated joint 'hinge'",
    ),
    "negative safe-mode damping": (
        _set("safety", "damping", {"hinge": -1.0}),
        r"safety\.damping\.hinge must not be negative",
    ),
    "zero velocity limit": (
        _set("safety", "joint_velocity", "hinge", 0.0),
        r"safety\.joint_velocity\.hinge must be positive",
    ),
    "negative velocity limit": (
        _set("safety", "joint_velocity", "hinge", -3.0),
        r"safety\.joint_velocity\.hinge must be positive",
    ),
    "safety torque above actuator limit": (
        _set("safety", "joint_torque", "hinge", 13.0),
        r"safety\.joint_torque\.hinge = 13\.0 exceeds the actuator's torque_limit 12\.0",
    ),
    "infinite stale timeout (no stale-data stop)": (
        _set("safety", "stale_timeout", float("inf")),
        r"safety\.stale_timeout must be above 0 and at most 1 s .* got inf",
    ),
    "stale timeout of minutes": (_set("safety", "stale_timeout", 120.0), r"safety\.stale_timeout must be .* got 120"),
    "unknown top-level key": (_set("colour", "red"), r"unknown key\(s\) colour"),
    "missing control": (_delete("control"), r"missing required key 'control'"),
    "missing joints": (_delete("joints"), r"missing required key 'joints'"),
    "missing safety": (_delete("safety"), r"missing required key 'safety'"),
    "bad actuator model": (
        _set("actuators", "hinge", "model", "servo"),
        r"actuators\.hinge\.model must be one of pd, torque, dc_motor, net; got 'servo'",
    ),
    "pd actuator without kp": (_pd_without_kp, r"actuators\.hinge: a pd actuator needs 'kp'"),
    "tilt on a fixed-base robot": (_tilt_on_fixed_base, r"tilt and base_height apply only to floating-base"),
    "parameter low above high": (
        _set("parameters", "joint.hinge.damping", {"low": 1.0, "high": 0.5}),
        r"parameters\.joint\.hinge\.damping: low .*1\.0.* is above high .*0\.5",
    ),
    "zero substeps": (_set("control", "substeps", 0), r"control\.substeps must be a positive integer, got 0"),
    "negative substeps": (
        _set("control", "substeps", -2),
        r"control\.substeps must be a positive integer, got -2",
    ),
    "fractional substeps": (
        _set("control", "substeps", 2.5),
        r"control\.substeps must be a positive integer",
    ),
    "observation size that does not fit the robot": (
        _set("observation", 0, "size", 3),
        r"observation\.joint_pos_sincos\.size is 3, but this robot's joint_pos_sincos has 2 entries",
    ),
    "unknown observation term": (
        _set("observation", 0, "name", "joint_pos_cos"),
        r"unknown observation term 'joint_pos_cos' \(known: joint_pos,",
    ),
    "IMU term without an IMU": (
        _set("observation", 0, {"name": "base_ang_vel", "size": 3}),
        r"observation term 'base_ang_vel' needs an IMU",
    ),
    "action scale of an unknown joint": (
        _set("action", "scale", {"knee": 2.0}),
        r"action\.scale: 'knee' is not an actuated joint",
    ),
    "unknown action key": (_set("action", "gain", 2.0), r"action: unknown key\(s\) gain"),
    "action filter outside (0, 1]": (_set("action", "filter", 0.0), r"action\.filter must be in \(0, 1\]"),
    "history that is not a number of frames": (
        _set("observation", 0, "history", 0),
        r"observation\.joint_pos_sincos\.history must be a positive integer",
    ),
    "per-value scale of the wrong length": (
        _set("observation", 0, "scale", [1.0, 2.0, 3.0]),
        r"observation\.joint_pos_sincos\.scale has 3 values, the term's frame has 2",
    ),
    "clip low above high": (_set("observation", 1, "clip", [1.0, -1.0]), r"observation\.joint_vel\.clip: low is not below high"),
    "gait phase without its period": (
        _set("observation", 2, {"name": "gait_phase"}),
        r"observation term 'gait_phase' needs the parameter 'period'",
    ),
    "parameter a term does not take": (
        _set("observation", 1, "params", {"period": 1.0}),
        r"observation term 'joint_vel': unknown parameter\(s\) period \(it takes: none\)",
    ),
    "base velocity on a fixed base": (
        _set("observation", 2, {"name": "base_lin_vel"}),
        r"observation term 'base_lin_vel' needs a floating base",
    ),
    "action clip of an unknown joint": (_set("action", "clip", {"knee": [0, 1]}), r"action\.clip: 'knee' is not an actuated joint"),
    "action limit that is not positive": (_set("action", "limit", 0.0), r"action\.limit must be positive"),
    "motor order missing a joint": (_set("motor_order", []), r"motor_order: missing actuated joint 'hinge'"),
    "infinite pd damping": (
        _set("actuators", "hinge", {"actuator": "motor", "model": "pd", "kp": 5.0, "kd": float("inf"), "torque_limit": 2.0}),
        r"actuators\.hinge\.kd must be finite",
    ),
    "infinite safe-mode damping": (_set("safety", "damping", float("inf")), r"safety\.damping must be finite"),
    "motor order of empty slots only": (_set("motor_order", ["-"]), r"motor_order: missing actuated joint 'hinge'"),
    "motor order listing a joint twice": (_set("motor_order", ["hinge", "-", "hinge"]), r"motor_order: a joint is listed twice"),
    "armature of an unknown joint": (_set("armature", {"knee": 0.01}), r"armature: unknown joint 'knee'"),
    "locked joint that the policy drives": (_set("locked_joints", {"hinge": 0.0}), r"locked_joints: 'hinge' is a policy joint"),
    "locked joint not in the model": (_set("locked_joints", {"knee": 0.0}), r"locked joint 'knee' is not in pendulum\.xml"),
    # safety review 10: an unlimited joint's range check let inf through, sent in its ROS 2 command slot every tick
    "locked joint at infinity": (_set("locked_joints", {"knee": float("inf")}), r"locked_joints\.knee must be finite"),
    "initial base on a fixed-base robot": (
        _set("initial_base", {"pos": [0, 0, 1]}),
        r"initial_base applies only to floating-base robots",
    ),
    "feet on a fixed-base robot": (_set("feet", ["pole"]), r"feet apply only to floating-base robots"),
    "task without a kind": (_set("task", {"joint": "hinge"}), r"task: missing 'kind'"),
    "IMU site that the model lacks": (
        _set("sensors", "imu", {"site": "imu"}),
        r"IMU site 'imu' is not in pendulum\.xml \(add it with sensors\.imu\.add_to",
    ),
}


class TestBadSpecs:
    @pytest.mark.parametrize(("mutate", "message"), list(BAD_SPECS.values()), ids=list(BAD_SPECS))
    def test_raises_spec_error_naming_the_problem(self, write_spec, mutate, message):
        path = write_spec(mutate)
        with pytest.raises(SpecError, match=message) as excinfo:
            load_spec(path)
        assert "robot.yaml" in str(excinfo.value), "the message names the spec file"

    def test_missing_spec_file(self, tmp_path):
        with pytest.raises(SpecError, match=r"robot spec not found: .*absent\.yaml"):
            load_spec(tmp_path / "absent.yaml")

    def test_invalid_yaml_syntax(self, tmp_path):
        shutil.copy(PENDULUM_XML, tmp_path / "pendulum.xml")
        path = tmp_path / "broken.yaml"
        path.write_text("name: pendulum\nmjcf: pendulum.xml\njoints: [hinge\n")
        with pytest.raises(SpecError, match=r"broken\.yaml: not valid YAML"):
            load_spec(path)

    def test_yaml_that_is_not_a_mapping(self, tmp_path):
        path = tmp_path / "list.yaml"
        path.write_text("- name\n- mjcf\n")
        with pytest.raises(SpecError, match=r"list\.yaml is not a robot spec \(its YAML is a list"):
            load_spec(path)


class TestContentHash:
    def test_stable_across_two_loads(self, write_spec):
        path = write_spec()
        first, second = load_spec(path), load_spec(path)
        assert first.hash == second.hash
        assert len(first.hash) == 64

    def test_changes_when_the_mjcf_bytes_change(self, write_spec, tmp_path):
        path = write_spec()
        before = load_spec(path).hash
        xml = tmp_path / "pendulum.xml"
        xml.write_bytes(xml.read_bytes() + b"<!-- one more byte -->\n")
        after = load_spec(path).hash
        assert after != before

    def test_changes_when_the_yaml_content_changes(self, write_spec):
        before = load_spec(write_spec()).hash
        after = load_spec(write_spec(_set("safety", "damping", 0.3))).hash
        assert after != before

    def test_ignores_yaml_comments_and_layout(self, write_spec):
        path = write_spec()
        before = load_spec(path).hash
        path.write_text("# a comment\n" + yaml.safe_dump(yaml.safe_load(path.read_text()), sort_keys=True))
        assert load_spec(path).hash == before
