"""The robot's own model (``build_robot_model``): the other bodies of a scene held still."""

from __future__ import annotations

import mujoco
import numpy as np

from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_model, build_robot_model, joint_qpos_indices

SCENE = """<mujoco model="cart_and_crate"><worldbody><geom name="floor" type="plane" size="5 5 .1"/>
<body name="crate" pos="2 0 0.1"><freejoint/><geom type="box" size="0.1 0.1 0.1" mass="1"/></body>
<body name="ball" pos="3 0 0.1"><joint type="ball"/><geom size="0.1" mass="1"/></body>
<body name="arm" pos="0 0 0.5"><joint name="shoulder" axis="0 1 0" range="-2 2"/>
<geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
<body pos="0.3 0 0"><joint name="elbow" axis="0 1 0" range="-2 2"/><geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
</body></body></worldbody>
<actuator><position name="s" joint="shoulder" kp="50" kv="2" forcerange="-20 20"/>
<position name="e" joint="elbow" kp="50" kv="2" forcerange="-20 20"/></actuator>
<keyframe><key name="home" qpos="2 0 0.1 1 0 0 0 1 0 0 0 0.3 -0.6" qvel="0 0 0 0 0 0 0 0 0 0.1 0.2"/></keyframe></mujoco>"""


class TestBuildRobotModel:
    def test_a_scene_with_a_free_object_and_a_keyframe_compiles_keeping_the_robots_pose(self, tmp_path):
        # a box and a ball beside the robot (unnamed free and ball joints) lose their joints; the keyframe used to keep its 7 + 6
        # (4 + 3) entries, so the collision observer's model (preflight, deploy, faults) did not compile
        (tmp_path / "scene.xml").write_text(SCENE)
        spec, _ = init_robot(tmp_path / "scene.xml", tmp_path / "robot.yaml")
        full = build_model(spec)
        robot = build_robot_model(spec)
        assert (full.nq, full.nv, robot.nq, robot.nv) == (13, 11, 2, 2)
        key = robot.key("home")
        assert np.allclose(key.qpos, [0.3, -0.6]) and np.allclose(key.qvel, [0.1, 0.2])
        assert np.allclose(robot.key_qpos[0][joint_qpos_indices(spec, robot)], [0.3, -0.6])
        assert int(robot.jnt_type[0]) == int(mujoco.mjtJoint.mjJNT_HINGE)

    def test_constraints_tendons_actuators_and_sensors_of_the_scenes_joints_go_with_them(self, tmp_path):
        # Gymnasium Robotics' kitchen: equalities tie the scene's knobs; removing the knobs' joints left
        # them naming unknown joints, and record and faults failed with "model does not compile"
        door = """<body name="cabinet" pos="2 0 0.5"><joint name="hinge_a" axis="0 0 1" range="-1 1"/>
        <geom type="box" size="0.1 0.1 0.1" mass="1"/><body pos="0.3 0 0"><joint name="hinge_b" axis="0 0 1" range="-1 1"/>
        <geom type="box" size="0.1 0.1 0.1" mass="1"/></body></body>"""
        scene = SCENE.replace("<body name=\"crate\"", door + "<body name=\"crate\"").replace(
            "<actuator>",
            '<equality><joint joint1="hinge_a" joint2="hinge_b"/></equality>'
            '<tendon><fixed name="latch"><joint joint="hinge_a" coef="1"/></fixed></tendon><actuator>',
        ).replace(
            "</actuator>",
            '<motor name="spring" tendon="latch"/></actuator><sensor><jointpos joint="hinge_b"/>'
            '<tendonpos tendon="latch"/><actuatorfrc actuator="spring"/><jointpos name="own" joint="elbow"/></sensor>',
        ).replace('qpos="2 0 0.1', 'qpos="0 0 2 0 0.1').replace('qvel="0 0 0', 'qvel="0 0 0 0 0')
        (tmp_path / "scene.xml").write_text(scene)
        spec, _ = init_robot(tmp_path / "scene.xml", tmp_path / "robot.yaml", InitOptions(joints="shoulder|elbow"))
        robot = build_robot_model(spec)
        assert (robot.nq, robot.neq, robot.ntendon) == (2, 0, 0)
        assert robot.sensor("own").id >= 0 and robot.actuator("s").id >= 0
        assert mujoco.mj_name2id(robot, mujoco.mjtObj.mjOBJ_ACTUATOR, "spring") == -1
