"""Which geoms collide: their bits, or an explicit contact pair (Menagerie's Apptronik Apollo switches
every geom's bits off and lists its foot-floor contacts as pairs), and which of them are the robot's own."""

from __future__ import annotations

import mujoco

from sim2real.robots.collide import collides, robot_geoms
from sim2real.robots.init import InitOptions, init_robot


def _paired_biped() -> str:
    legs = "".join(
        f"<body name='{s}_leg' pos='0 {y} -0.05'><joint name='{s}_hip' axis='0 1 0' range='-1 1'/>"
        "<geom type='capsule' fromto='0 0 0 0 0 -0.3' size='0.03' mass='1'/>"
        f"<body name='{s}_foot' pos='0 0 -0.3'><joint name='{s}_ankle' axis='0 1 0' range='-1 1'/>"
        f"<geom name='{s}_sole' type='box' size='0.08 0.04 0.01' pos='0 0 -0.02' mass='0.3'/></body></body>"
        for s, y in (("left", 0.1), ("right", -0.1))
    )
    return (
        "<mujoco><compiler angle='radian'/><default><geom contype='0' conaffinity='0'/></default><worldbody>"
        "<geom name='floor' type='plane' size='5 5 0.1'/><body name='torso' pos='0 0 0.5'><freejoint/>"
        f"<geom type='box' size='0.1 0.15 0.05' mass='5'/>{legs}</body></worldbody>"
        "<contact><pair geom1='left_sole' geom2='floor'/><pair geom1='right_sole' geom2='floor'/></contact></mujoco>"
    )


class TestCollide:
    def test_geoms_named_in_a_pair_collide_though_their_bits_are_off(self):
        model = mujoco.MjModel.from_xml_string(_paired_biped())
        names = {model.geom(g).name for g in range(model.ngeom) if collides(model, g)}
        assert names == {"floor", "left_sole", "right_sole"}
        assert collides(model, model.geom("left_sole").id) and not collides(model, model.geom(1).id)

    def test_robot_init_finds_the_feet_and_the_floor_of_such_a_model(self, tmp_path):
        (tmp_path / "biped.xml").write_text(_paired_biped())
        spec, _ = init_robot(tmp_path / "biped.xml", tmp_path / "robot.yaml", InitOptions(kp=80.0, kd=2.0, torque_limit=80.0))
        assert set(spec.feet) == {"left_foot", "right_foot"} and spec.floor is None
        assert spec.initial_base is not None and 0.3 < spec.initial_base.pos[2] < 0.45


def _robot_ball_and_table() -> str:
    """A floating robot (a visual geom without contacts on its leg), a free ball, a table welded to the world."""
    return (
        "<mujoco><worldbody><geom name='floor' type='plane' size='5 5 0.1'/>"
        "<body name='table' pos='2 0 0.2'><geom name='top' type='box' size='0.5 0.5 0.02'/></body>"
        "<body name='ball' pos='1 0 0.1'><freejoint/><geom name='ball' size='0.1'/></body>"
        "<body name='base' pos='0 0 0.5'><freejoint/><geom name='torso' type='box' size='0.1 0.1 0.05'/>"
        "<body name='leg'><joint name='hip' axis='0 1 0'/><geom name='shin' type='capsule' fromto='0 0 0 0 0 -0.3' "
        "size='0.02'/><geom name='mesh_look' type='sphere' size='0.03' contype='0' conaffinity='0'/>"
        "<body name='foot' pos='0 0 -0.3'><geom name='sole' type='box' size='0.05 0.03 0.01'/></body></body></body>"
        "</worldbody></mujoco>"
    )


def _robot_geom_names(model: mujoco.MjModel, body: str) -> list[str]:
    return [model.geom(g).name for g in robot_geoms(model, model.body(body).id)]


class TestRobotGeoms:
    def test_the_robots_colliding_geoms_from_any_of_its_bodies(self):
        model = mujoco.MjModel.from_xml_string(_robot_ball_and_table())
        for body in ("base", "leg", "foot"):
            assert _robot_geom_names(model, body) == ["torso", "shin", "sole"]
        assert _robot_geom_names(model, "ball") == ["ball"]

    def test_geoms_in_a_contact_pair_are_the_robots_too(self):
        model = mujoco.MjModel.from_xml_string(_paired_biped())
        assert _robot_geom_names(model, "torso") == ["left_sole", "right_sole"]
