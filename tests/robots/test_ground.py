"""The ground of a model: colliding planes, anything to stand on, the name of an added floor."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import yaml

from sim2real.params import Parameters
from sim2real.robots import DATA_DIR, load_spec
from sim2real.robots.ground import (
    added_floor_name,
    floor_plane,
    ground_planes,
    has_ground,
    is_static,
    lift_out_of_ground,
)
from sim2real.robots.model import build_model, default_qpos


def _model(world: str) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(
        f"<mujoco><worldbody>{world}<body name='b' pos='0 0 1'><freejoint/><geom size='0.1'/></body></worldbody></mujoco>"
    )


class TestGround:
    def test_the_highest_colliding_plane_is_the_floor_and_a_drawn_one_is_not(self):
        model = _model(
            "<geom name='low' type='plane' size='1 1 0.1'/><geom name='high' type='plane' size='1 1 0.1' pos='0 0 0.2'/>"
            "<geom name='drawn' type='plane' size='1 1 0.1' pos='0 0 0.5' contype='0' conaffinity='0'/>"
        )
        assert len(ground_planes(model)) == 2
        assert floor_plane(model) == (0.2, "high")

    def test_a_box_is_ground_but_not_a_floor_plane(self):
        model = _model("<geom name='box' type='box' size='1 1 0.1' pos='0 0 -0.1'/>")
        assert has_ground(model) and floor_plane(model) == (0.0, None)

    def test_nothing_to_stand_on_and_the_added_floor_takes_a_free_name(self):
        model = _model("<geom name='floor' type='plane' size='1 1 0.1' contype='0' conaffinity='0'/>")
        assert not has_ground(model)
        assert added_floor_name(model) == "sim2real_floor"
        assert added_floor_name(_model("")) == "floor"

    def test_a_floor_in_a_static_body_of_its_own_is_the_floor(self):
        # Menagerie's Open Duck Mini puts its plane in <body name="floor"> (no joint): it was missed,
        # and a second floor was added under the robot's feet
        model = _model("<body name='ground' pos='0 0 0.1'><geom name='plane' type='plane' size='1 1 0.1' pos='0 0 0.05'/></body>")
        assert has_ground(model) and ground_planes(model) == [model.geom("plane").id]
        assert floor_plane(model) == (pytest.approx(0.15), "plane")  # its position in the world
        assert is_static(model, model.geom("plane").id) and not is_static(model, model.geom_bodyid.size - 1)

    def test_a_tilted_plane_is_a_wall_not_the_floor(self):
        # dm_control's quadruped scene walls its arena with planes tilted 45 degrees, placed higher
        # than its floor: the highest plane was taken as the floor and the robot raised 0.65 m
        model = _model(
            "<geom name='floor' type='plane' size='1 1 0.1'/>"
            "<geom name='wall' type='plane' size='1 1 0.1' pos='-2 0 0.7' zaxis='1 0 1'/>"
            "<geom name='ramp' type='plane' size='1 1 0.1' pos='0 3 0.3' zaxis='0 0.26 1'/>"
        )
        assert ground_planes(model) == [model.geom("floor").id]
        assert floor_plane(model) == (0.0, "floor")

    def test_walls_alone_are_nothing_to_stand_on(self):
        model = _model("<geom name='wall' type='plane' size='1 1 0.1' pos='-2 0 0.7' zaxis='1 0 0'/>")
        assert not has_ground(model) and floor_plane(model) == (0.0, None)


class TestLiftOutOfGround:
    def test_the_robot_is_raised_out_of_the_ground_under_it_not_onto_a_wall_beside_it(self):
        """A static box the robot stands against (a wall, a step's riser) penetrated sideways: each round
        raised the robot by that depth until it stood on the wall's top (1 m up, in robot init)."""
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><geom type='box' pos='0 0 -0.5' size='5 5 0.5'/>"
            "<geom type='box' pos='0.15 0 0.5' size='0.1 1 0.5'/>"
            "<body name='b' pos='0 0 0.05'><freejoint/><geom size='0.1'/></body></worldbody></mujoco>"
        )
        data = mujoco.MjData(model)
        lift = lift_out_of_ground(model, data, [2], 2)
        assert lift == pytest.approx(0.05, abs=1e-3) and data.qpos[2] == pytest.approx(0.1, abs=1e-3)


class TestGroundFriction:
    def test_the_floor_friction_is_the_contact_friction(self, tmp_path):
        # the embedded quadruped with a floor of no priority (as most scenes have), the feet 0.9:
        # MuJoCo took the larger friction, so a floor randomized to 0.4 still gave the feet 0.9
        xml = (DATA_DIR / "quadruped.xml").read_text()
        assert 'priority="1"' in xml
        (tmp_path / "quadruped.xml").write_text(xml.replace('priority="1"', 'priority="0"'))
        raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
        (tmp_path / "quadruped.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        spec = load_spec(tmp_path / "quadruped.yaml")
        model = build_model(spec)
        Parameters(spec, model).set(model, {"geom.floor.friction": 0.4})
        data = mujoco.MjData(model)
        data.qpos[:] = default_qpos(spec, model)
        seen = []
        for _ in range(200):  # 1 s of falling onto the floor under zero control
            mujoco.mj_step(model, data)
            seen += [c.friction[0] for c in data.contact[: data.ncon]]
        assert seen
        np.testing.assert_allclose(seen, 0.4)
        assert any(o.startswith("ground contact priority -> 1 (floor)") for o in spec.overrides)

    def test_a_model_whose_floor_outranks_the_robot_is_left_alone(self):
        from sim2real.robots import load_robot

        spec = load_robot("quadruped")
        assert not any("ground contact priority" in o or "contact priorities" in o for o in spec.overrides)
        model = build_model(spec)
        assert model.geom_priority[model.geom("floor").id] == 1

    def test_feet_that_outrank_the_floor_keep_their_own_contact(self, tmp_path):
        # Menagerie's Go2 style: feet with priority 1, their own friction and condim 6; the model
        # chose the feet's contact, which a raised floor would replace (condim 3, the floor's softness)
        xml = (DATA_DIR / "quadruped.xml").read_text()
        xml = xml.replace('priority="1"', 'priority="0"')
        feet = 'name="FL_foot"'
        assert feet in xml
        xml = xml.replace(feet, feet + ' priority="2" condim="6"', 1)
        (tmp_path / "quadruped.xml").write_text(xml)
        raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
        (tmp_path / "quadruped.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        spec = load_spec(tmp_path / "quadruped.yaml")
        model = build_model(spec)
        assert model.geom_priority[model.geom("floor").id] == 0
        assert model.geom_priority[model.geom("FL_foot").id] == 2
        assert any("outrank the ground" in o and "FL_foot" in o for o in spec.overrides)


def _variant(tmp_path, xml: str, **yaml_changes):
    (tmp_path / "quadruped.xml").write_text(xml)
    raw = yaml.safe_load((DATA_DIR / "quadruped.yaml").read_text())
    raw.update(yaml_changes)
    (tmp_path / "quadruped.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_spec(tmp_path / "quadruped.yaml")


def _first_foot_contact(spec, model, foot="FL_foot"):
    data = mujoco.MjData(model)
    data.qpos[:] = default_qpos(spec, model)
    for _ in range(100):
        mujoco.mj_step(model, data)
        for c in data.contact[: data.ncon]:
            if model.geom(c.geom2).name == foot or model.geom(c.geom1).name == foot:
                return c
    raise AssertionError("no foot contact")


class TestGroundPriorityReview:
    """Review (wt-rev2): a different priority copies condim, solref, solimp and all frictions from
    the higher geom (equal priority: the larger condim, solmix-weighted softness), not only friction."""

    def test_raising_the_floor_keeps_the_feet_condim_and_softness_or_says_so(self, tmp_path):
        xml = (DATA_DIR / "quadruped.xml").read_text().replace('priority="1"', 'priority="0"')
        foot = '<default class="foot">\n      <geom '
        assert foot in xml
        xml = xml.replace(foot, foot + 'condim="6" solref="0.005 1" solimp="0.95 0.99 0.001" ')
        spec = _variant(tmp_path, xml)
        model = build_model(spec)
        contact = _first_foot_contact(spec, model)
        line = " ".join(o for o in spec.overrides if "ground contact priority" in o)
        # was: dim 3, solref (0.02, 1) (the floor's), and the line speaks of friction only
        assert contact.dim == 6 or ("condim" in line and "solref" in line)

    def test_a_robot_geom_that_cannot_touch_the_floor_does_not_keep_the_feet_at_the_larger_friction(self, tmp_path):
        # a priority-1 geom whose collision bits never meet the floor's (contype 1 / conaffinity 0)
        xml = (DATA_DIR / "quadruped.xml").read_text().replace('priority="1"', 'priority="0"')
        xml = xml.replace(
            '<site name="imu"', '<geom name="bumper" size="0.01" contype="2" conaffinity="2" priority="1"/><site name="imu"'
        )
        spec = _variant(tmp_path, xml)
        model = build_model(spec)
        Parameters(spec, model).set(model, {"geom.floor.friction": 0.4})
        assert _first_foot_contact(spec, model).friction[0] == pytest.approx(0.4)  # was 0.9

    def test_the_added_floor_line_does_not_claim_to_outrank_feet_that_outrank_it(self, tmp_path):
        xml = (DATA_DIR / "quadruped.xml").read_text()
        floor = xml[xml.index('<geom name="floor"') : xml.index("/>", xml.index('<geom name="floor"')) + 2]
        xml = xml.replace(floor, "").replace('name="FL_foot"', 'name="FL_foot" priority="1"')
        spec = _variant(tmp_path, xml, floor="floor")
        model = build_model(spec)
        assert model.geom_priority[model.geom("floor").id] < model.geom_priority[model.geom("FL_foot").id]
        line = next(o for o in spec.overrides if o.startswith("adds a ground plane"))
        assert "outranking the robot's geoms" not in line or any("FL_foot" in o and "outrank" in o for o in spec.overrides)
