"""Vendor URDFs: meshes named relative, absolute or through a ROS package resolve; bad ones are one line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, infer_spec, init_robot
from sim2real.robots.model import build_model
from sim2real.robots.urdf import model_format, resolve_mesh
from urdf_testdata import IMU_POS, LEGS, ascii_stl_box, collada_box, quadruped_urdf, srdf, stl


def _stl(path: Path) -> Path:
    """A binary STL tetrahedron of 10 cm edges."""
    return stl(path, 0.1)


def _dog_with_base_inertia(path: Path, mass: float, ixx, ixy, ixz, iyy, iyz, izz) -> Path:
    """The test quadruped whose (massless) base link states this inertial."""
    urdf = quadruped_urdf(path)
    inertia = f'<inertia ixx="{ixx}" ixy="{ixy}" ixz="{ixz}" iyy="{iyy}" iyz="{iyz}" izz="{izz}"/>'
    urdf.write_text(urdf.read_text().replace(
        '<link name="base"/>', f'<link name="base"><inertial><mass value="{mass}"/>{inertia}</inertial></link>'
    ))
    return urdf


def _urdf(path: Path, mesh: str) -> Path:
    """A two-link arm whose moving link collides through ``mesh`` (a URDF ``filename``)."""
    inertia = '<inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/>'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""<robot name="arm">
  <link name="base"><inertial><mass value="2"/>{inertia}</inertial></link>
  <link name="upper"><inertial><mass value="1"/>{inertia}</inertial>
    <collision><geometry><mesh filename="{mesh}"/></geometry></collision></link>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="upper"/>
    <axis xyz="0 1 0"/><limit lower="-1.5" upper="1.5" effort="20" velocity="10"/></joint>
</robot>
"""
    )
    return path


GAINS = InitOptions(kp=30.0, kd=1.0)


class TestPackageMeshes:
    def test_a_package_checked_out_around_the_urdf_resolves(self, tmp_path):
        stl = _stl(tmp_path / "arm_description" / "meshes" / "upper.stl")
        urdf = _urdf(tmp_path / "arm_description" / "urdf" / "arm.urdf", "package://arm_description/meshes/upper.stl")
        spec, _ = init_robot(urdf, tmp_path / "out" / "robot.yaml", GAINS)
        assert build_model(spec).nmesh == 1
        assert any(Path(f).name == stl.name for f in spec.files)  # the mesh is hashed

    def test_a_package_beside_the_urdf_resolves(self, tmp_path):
        # pybullet_data's xArm: xarm/xarm6_robot.urdf names package://xarm_description/..., which is xarm/xarm_description
        stl = _stl(tmp_path / "xarm" / "arm_description" / "meshes" / "upper.stl")
        urdf = _urdf(tmp_path / "xarm" / "arm.urdf", "package://arm_description/meshes/upper.stl")
        assert resolve_mesh("package://arm_description/meshes/upper.stl", urdf) == stl.resolve()

    def test_an_installed_package_on_ros_package_path_resolves(self, tmp_path, monkeypatch):
        stl = _stl(tmp_path / "ws" / "arm_description" / "meshes" / "upper.stl")
        urdf = _urdf(tmp_path / "elsewhere" / "arm.urdf", "package://arm_description/meshes/upper.stl")
        with pytest.raises(SpecError):
            resolve_mesh("package://arm_description/meshes/upper.stl", urdf)
        monkeypatch.setenv("ROS_PACKAGE_PATH", str(tmp_path / "ws"))
        assert resolve_mesh("package://arm_description/meshes/upper.stl", urdf) == stl.resolve()

    def test_relative_absolute_and_file_urls_resolve(self, tmp_path):
        stl = _stl(tmp_path / "vendor" / "meshes" / "upper.stl")
        urdf = _urdf(tmp_path / "vendor" / "arm.urdf", "meshes/upper.stl")
        assert resolve_mesh("meshes/upper.stl", urdf) == stl.resolve()
        assert resolve_mesh(str(stl), urdf) == stl.resolve()
        assert resolve_mesh(f"file://{stl}", urdf) == stl.resolve()


class TestBadMeshes:
    def test_a_missing_mesh_is_one_line_naming_it(self, tmp_path):
        urdf = _urdf(tmp_path / "arm_description" / "urdf" / "arm.urdf", "package://arm_description/meshes/gone.stl")
        with pytest.raises(SpecError, match=r"arm.urdf: mesh 'package://arm_description/meshes/gone.stl' not found"):
            init_robot(urdf, tmp_path / "out" / "robot.yaml", GAINS)

    def test_a_format_mujoco_cannot_read_is_one_line_naming_it(self, tmp_path):
        _stl(tmp_path / "vendor" / "meshes" / "upper.ply")  # the bytes do not matter: the suffix does
        urdf = _urdf(tmp_path / "vendor" / "arm.urdf", "meshes/upper.ply")
        with pytest.raises(SpecError, match=r"mesh 'meshes/upper.ply' is .ply; MuJoCo reads"):
            init_robot(urdf, tmp_path / "out" / "robot.yaml", GAINS)


class TestVendorQuirks:
    def test_an_impossible_inertia_is_balanced_and_said(self, tmp_path):
        # pybullet_data's xarm6_robot.urdf: link2's principal moments break A + B >= C
        stl = _stl(tmp_path / "vendor" / "meshes" / "upper.stl")
        urdf = _urdf(tmp_path / "vendor" / "arm.urdf", "meshes/upper.stl")
        urdf.write_text(
            urdf.read_text().replace(
                '<link name="upper"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01"',
                '<link name="upper"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.05"',
            )
        )
        with pytest.raises(Exception, match="balanceinertia"):  # what MuJoCo says of the file itself
            __import__("mujoco").MjModel.from_xml_path(str(urdf))
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", GAINS)
        assert any("impossible inertia (link 'upper'" in line for line in result.inferred)
        model = build_model(spec)  # the written MJCF compiles on its own, with the balanced moments
        upper = model.body("upper").id
        np.testing.assert_allclose(model.body_inertia[upper], [0.07 / 3] * 3, rtol=1e-5)
        assert stl.exists()

    def test_nul_bytes_after_the_robot_element_are_passed_by(self, tmp_path):
        """pybullet's humanoid.urdf ends in a NUL byte after </robot>, which MuJoCo and pybullet read
        past: init said 'not a readable URDF (not well-formed (invalid token))'."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        urdf.write_bytes(urdf.read_bytes().replace(b"\n", b"\r\n") + b"\x00")
        __import__("mujoco").MjSpec.from_file(str(urdf)).compile()  # what MuJoCo says of the file itself
        spec, _ = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert spec.safety.velocity[spec.joints.index("FL_knee")] == 20.0  # read from the URDF's text
        urdf.write_bytes(urdf.read_bytes() + b"<robot/>")  # a second element is still no URDF
        with pytest.raises(SpecError, match="not a readable URDF"):
            init_robot(urdf, tmp_path / "out2" / "robot.yaml", FLOATING)

    def test_an_inertia_far_beyond_the_links_geoms_is_named(self, tmp_path):
        """pybullet's minitaur.urdf states 1 kg m^2 on its 50 g lower legs (a 4.5 m radius of gyration
        on a 0.2 m rod; pybullet takes inertias from the collision shapes, MuJoCo from the file): init
        said nothing."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        _, plain = init_robot(urdf, tmp_path / "plain" / "robot.yaml", FLOATING)
        assert not any("far beyond" in line for line in plain.check)  # 0.002 kg m^2 per kg: 4.5 cm
        urdf.write_text(
            urdf.read_text().replace(
                '<link name="FL_calf"><inertial><mass value="0.3"/><inertia ixx="0.0006" iyy="0.0006" izz="0.0006"',
                '<link name="FL_calf"><inertial><mass value="0.3"/><inertia ixx="1.0" iyy="1.0" izz="1.0"',
            )
        )
        _, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        said = [line for line in result.check if "far beyond" in line]
        assert len(said) == 1 and said[0].startswith("1 link states an inertia")
        assert "FL_calf (0.3 kg, 1 kg m^2: 1.8 m against" in said[0] and "FR_calf" not in said[0]

    def test_every_impossible_inertia_is_named_not_only_the_first(self, tmp_path):
        """pybullet's Mini Cheetah: its four thighs state one tensor that breaks A + B >= C; MuJoCo's
        error names the first, and init said 'link thigh_fr' of the four it evened."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        text, n = re.subn(
            r'(<link name="(\w\w)_thigh"><inertial><mass value="0.5"/><inertia ixx="0.001" iyy="0.001" izz=")0.001',
            r"\g<1>0.005",
            urdf.read_text(),
        )
        assert n == 4
        urdf.write_text(text)
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        said = [line for line in result.inferred if "impossible inertia" in line]
        assert len(said) == 1 and "4 links" in said[0]
        assert all(f"'{leg}_thigh'" in said[0] for leg, _, _ in LEGS)
        assert "calf" not in said[0] and "trunk" not in said[0]
        model = build_model(spec)
        for leg, _, _ in LEGS:  # each one evened
            np.testing.assert_allclose(model.body(f"{leg}_thigh").inertia, [0.007 / 3] * 3, rtol=1e-5)


FLOATING = InitOptions(kp=30.0, kd=1.0, floating_base=True)
KEEP_VISUALS = '<mujoco><compiler discardvisual="false"/></mujoco>\n'


class TestImuLink:
    def test_a_fixed_imu_link_becomes_a_site_where_it_was(self, tmp_path):
        """MuJoCo fuses fixed links: Go1's imu_link at (-0.016, -0.067, -0.006) m vanished and init added
        a site at the base's origin."""
        spec, result = init_robot(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "out" / "robot.yaml", FLOATING)
        assert spec.imu is not None and spec.imu.site == "imu_link" and spec.imu.add_to is None
        model = build_model(spec)
        site = model.site("imu_link")
        assert model.body(int(site.bodyid[0])).name == spec.base_body == "base"
        np.testing.assert_allclose(site.pos, IMU_POS, atol=1e-9)  # base and trunk share their origin
        assert any("fixed link 'imu_link' (on link 'trunk') becomes site 'imu_link'" in line for line in result.inferred)

    def test_an_imu_link_on_a_body_that_moves_against_the_base_is_refused_and_said(self, tmp_path):
        urdf = quadruped_urdf(tmp_path / "dog.urdf", imu_parent="FL_thigh")  # H1's imu_link is on its torso
        result = infer_spec(urdf, tmp_path / "out", FLOATING)
        assert result.spec["sensors"]["imu"]["add_to"] == "base"
        assert any("(imu_link) are not on the base body: imu_link is on FL_thigh, which moves" in line for line in result.check)


class TestConversionMessages:
    def test_an_inertia_with_a_negative_eigenvalue_is_one_line_naming_the_link_and_the_fix(self, tmp_path):
        """legged_gym's Cassie: MuJoCo's two-line 'inertia must have positive eigenvalues' error."""
        urdf = _dog_with_base_inertia(tmp_path / "dog.urdf", 0.1, 0.00001, 0, 0.015, 0.00001, 0, 0.00001)
        with pytest.raises(SpecError) as info:
            infer_spec(urdf, tmp_path / "out", FLOATING)
        message = str(info.value)
        assert "\n" not in message
        assert "link 'base' states an inertia that is not physical" in message and "<inertia>" in message

    def test_unreadable_meshes_only_visuals_use_are_dropped_with_one_note(self, tmp_path):
        """unitree_ros's H2: .dae visuals beside .stl collision meshes, visuals kept by its MuJoCo block."""
        stl(tmp_path / "meshes" / "trunk.stl")
        (tmp_path / "meshes" / "trunk.dae").write_text("<COLLADA/>")
        visual = '<visual><geometry><mesh filename="meshes/trunk.dae"/></geometry></visual>'
        visual += '<visual><geometry><mesh filename="meshes/trunk.stl"/></geometry></visual>'
        urdf = quadruped_urdf(tmp_path / "dog.urdf", head=KEEP_VISUALS, trunk_extra=visual)
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        notes = [line for line in result.inferred if "dropped the visual geoms" in line]
        assert len(notes) == 1 and "meshes/trunk.dae" in notes[0]
        assert build_model(spec).nmesh == 1  # the readable visual stays
        assert not any("MuJoCo drops visual geoms" in line for line in result.check)
        assert any('discardvisual="false"' in line for line in result.check)

    def test_an_unexpanded_xacro_expression_is_one_line_naming_where(self, tmp_path):
        """pybullet_data's husky.urdf: MuJoCo said "bad format in attribute 'rpy'", naming no element."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        text = urdf.read_text()
        origin = re.search(r'(<joint name="imu_joint"[^>]*>.*?<origin[^>]*?)xyz="[^"]*"', text, re.S)
        assert origin is not None
        urdf.write_text(text[: origin.start()] + origin.group(1) + 'xyz="$(optenv IMU_XYZ 0 0 0)"' + text[origin.end() :])
        with pytest.raises(SpecError) as info:
            infer_spec(urdf, tmp_path / "out", FLOATING)
        message = str(info.value)
        assert "\n" not in message
        assert "joint 'imu_joint' <origin> has xyz=\"$(optenv IMU_XYZ 0 0 0)\"" in message and "xacro" in message

    def test_an_unreadable_collision_mesh_stays_an_error(self, tmp_path):
        (tmp_path / "meshes" / "trunk.dae").parent.mkdir()
        (tmp_path / "meshes" / "trunk.dae").write_text("<COLLADA/>")
        both = '<visual><geometry><mesh filename="meshes/trunk.dae"/></geometry></visual>'
        both += '<collision><geometry><mesh filename="meshes/trunk.dae"/></geometry></collision>'
        urdf = quadruped_urdf(tmp_path / "dog.urdf", head=KEEP_VISUALS, trunk_extra=both)
        with pytest.raises(SpecError) as info:
            infer_spec(urdf, tmp_path / "out", FLOATING)
        message = str(info.value)
        assert "\n" not in message
        assert "mesh 'meshes/trunk.dae' cannot be converted for MuJoCo (trunk.dae: a Collada file without triangles)" in message

    def test_a_declared_floating_joint_with_floating_base_gets_no_second_one(self, tmp_path):
        """unitree_rl_gym's H1 with its "uncomment for MuJoCo" block and --floating-base: MuJoCo said
        'more than 6 dofs in body'."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", floating_joint=True)
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert spec.base_body == "base" and build_model(spec).nq == 7 + 8
        assert any("declares its own floating joint 'floating_base_joint'" in line for line in result.inferred)

    @pytest.mark.parametrize("floating", [False, True])
    def test_a_urdf_of_one_rigid_body_says_it_has_nothing_to_control(self, tmp_path, floating):
        """hector's quadrotor_base.urdf and iris_simple.urdf (links welded by fixed joints): 'iris_simple.xml has
        no robot (no joint, no body): a scene of ground alone', about a file the user never gave."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        urdf.write_text(urdf.read_text().replace('type="revolute"', 'type="fixed"'))
        with pytest.raises(SpecError, match=r"^dog\.urdf has no movable joint \(revolute, continuous or prismatic\): nothing to control$"):
            infer_spec(urdf, tmp_path / "out", InitOptions(floating_base=floating))

    def test_a_urdf_without_links_is_one_line(self, tmp_path):
        """example-robot-data's ur3.urdf: xacro's output of a file of macros, an empty <robot>."""
        (tmp_path / "ur3.urdf").write_text('<robot xmlns:xacro="http://wiki.ros.org/xacro"></robot>')
        with pytest.raises(SpecError, match=r"^ur3\.urdf has no <link>: an empty robot"):
            infer_spec(tmp_path / "ur3.urdf", tmp_path / "out", GAINS)

    def test_the_description_names_the_urdf_given(self, tmp_path):
        result = infer_spec(quadruped_urdf(tmp_path / "dog.urdf"), tmp_path / "out", FLOATING)
        assert result.spec["description"].endswith("from dog.urdf")


def _walls_obj(path: Path) -> Path:
    """An OBJ of a 4 cm box's eight corners whose only triangles are one of its walls (no volume: MuJoCo's
    "mesh volume is too small", as Alex's nub.obj)."""
    corners = [(x, y, z) for x in (0, 0.04) for y in (0, 0.04) for z in (0, 0.04)]
    walls = [(1, 2, 4), (1, 4, 3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"v {x} {y} {z}\n" for x, y, z in corners) + "".join(f"f {a} {b} {c}\n" for a, b, c in walls))
    return path


class TestMeshWithoutVolume:
    def test_a_link_with_its_inertial_takes_the_meshs_convex_hull_and_it_is_said(self, tmp_path):
        """example-robot-data's alex_nub_hands.urdf: 'cannot convert to MJCF (Error: mesh volume is too small:
        nub . Try setting inertia to shell ...)' although its links state their <inertial>."""
        _walls_obj(tmp_path / "meshes" / "walls.obj")
        mesh = '<collision><geometry><mesh filename="meshes/walls.obj"/></geometry></collision>'
        urdf = quadruped_urdf(tmp_path / "dog.urdf", trunk_extra=mesh)
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert any("volume of mesh 'walls' (walls.obj)" in line and 'inertia="convex"' in line for line in result.inferred)
        model = build_model(spec)
        # the URDF's <inertial> (trunk 6 kg, imu_link 1 g, fused into base), not the box's 0.064 kg more
        assert model.body("base").mass[0] == pytest.approx(6.001, abs=1e-6)

    @pytest.mark.parametrize("how", ["no inertial", "inertiafromgeom"])
    def test_a_link_that_takes_its_mass_from_such_a_mesh_is_one_line_naming_it_and_the_fix(self, tmp_path, how):
        _walls_obj(tmp_path / "meshes" / "walls.obj")
        mesh = '<collision><geometry><mesh filename="meshes/walls.obj"/></geometry></collision>'
        head = '<mujoco><compiler inertiafromgeom="true"/></mujoco>\n' if how == "inertiafromgeom" else ""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", trunk_extra=mesh, head=head)
        if how == "no inertial":
            urdf.write_text(re.sub(r'(<link name="trunk">)<inertial>.*?</inertial>', r"\1", urdf.read_text()))
        with pytest.raises(SpecError) as info:
            infer_spec(urdf, tmp_path / "out", FLOATING)
        message = str(info.value)
        assert "\n" not in message
        assert "mesh 'walls' has no volume MuJoCo can take" in message and "give that link its <inertial>" in message


class TestMeshesMujocoCannotRead:
    def _geom_extent(self, spec, body: str) -> tuple[np.ndarray, np.ndarray]:
        """World-frame bounds [m] of the mesh geoms of ``body`` in the model's qpos0."""
        model = build_model(spec)
        data = __import__("mujoco").MjData(model)
        __import__("mujoco").mj_kinematics(model, data)
        points = []
        for g in range(model.ngeom):
            if model.geom_bodyid[g] == model.body(body).id and model.geom_dataid[g] >= 0:
                mesh = model.geom_dataid[g]
                start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
                local = model.mesh_vert[start : start + count]
                points.append(local @ data.geom_xmat[g].reshape(3, 3).T + data.geom_xpos[g])
        allp = np.concatenate(points)
        return allp.min(axis=0), allp.max(axis=0)

    def test_a_collada_collision_mesh_is_rewritten_as_stl_where_the_file_places_it(self, tmp_path):
        """HyQ's and Romeo's collision meshes are .dae: init stopped at 'MuJoCo reads .stl, .obj, .msh'."""
        box = collada_box(tmp_path / "arm_description" / "meshes" / "upper.dae", (10, 20, 40), offset=(0, 0, -30), unit=0.01)
        urdf = _urdf(tmp_path / "arm_description" / "urdf" / "arm.urdf", "package://arm_description/meshes/upper.dae")
        before = box.read_bytes()
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", GAINS)
        low, high = self._geom_extent(spec, "upper")
        # the node's translate and scale and the file's centimetres: 0.1 x 0.2 x 0.4 m, 0.3 m below the joint
        np.testing.assert_allclose(low, [-0.05, -0.1, -0.5], atol=1e-6)
        np.testing.assert_allclose(high, [0.05, 0.1, -0.1], atol=1e-6)
        assert any("rewrote 1 meshes MuJoCo cannot read (Collada) as binary STL in arm_converted_meshes/" in line for line in result.inferred)
        assert box.read_bytes() == before
        assert any(Path(f).parent.name == "arm_converted_meshes" for f in spec.files)  # the converted mesh is hashed

    def test_an_ascii_stl_collision_mesh_is_rewritten_as_binary_stl(self, tmp_path):
        """example-robot-data's simple_humanoid: MuJoCo said 'number of faces should be between 1 and 200000
        ... perhaps this is an ASCII file?' inside 'cannot convert to MJCF'."""
        ascii_stl_box(tmp_path / "vendor" / "meshes" / "upper.stl", (0.1, 0.2, 0.3))
        urdf = _urdf(tmp_path / "vendor" / "arm.urdf", "meshes/upper.stl")
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", GAINS)
        low, high = self._geom_extent(spec, "upper")
        np.testing.assert_allclose(high - low, [0.1, 0.2, 0.3], atol=1e-6)
        assert any("(ASCII STL) as binary STL" in line for line in result.inferred)


class TestPlaceholderInertia:
    def test_a_tensor_of_one_number_in_six_fields_loses_its_products_and_is_named(self, tmp_path):
        """Go1's, B1's, ANYmal B's base (1e-6 everywhere) and ANYmal C's hatch (0.001): two zero
        eigenvalues, and init stopped at 'states an inertia that is not physical'."""
        urdf = _dog_with_base_inertia(tmp_path / "dog.urdf", 0.142, *[0.001] * 6)
        with pytest.raises(Exception, match="positive eigenvalues"):  # what MuJoCo says of the file itself
            __import__("mujoco").MjModel.from_xml_path(str(urdf))
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        lines = [line for line in result.check if "state an inertia no body has" in line]
        assert len(lines) == 1 and "'base' (0.142 kg: products dropped)" in lines[0]
        model = build_model(spec)
        # the base link's mass joins the trunk's (6 kg) and the imu_link's (1 g): MuJoCo fuses them
        assert model.body_mass[model.body("base").id] == pytest.approx(6.0 + 0.001 + 0.142)

    def test_products_larger_than_the_moments_stay_an_error(self, tmp_path):
        urdf = _dog_with_base_inertia(tmp_path / "dog.urdf", 0.1, 0.001, 0.0015, 0, 0.001, 0, 0.001)
        with pytest.raises(SpecError, match="link 'base' states an inertia that is not physical"):
            infer_spec(urdf, tmp_path / "out", FLOATING)


class TestMasslessLinks:
    def test_a_link_moving_on_a_joint_without_mass_gets_a_gram_and_is_named(self, tmp_path):
        """Romeo's finger links (romeo.urdf) move on joints with mass 0: MuJoCo's 'mass and inertia of moving
        bodies must be larger than mjMINVAL' was the error, which says nothing of what to do."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf", gripper=True)
        text = urdf.read_text()
        for link in ("jaw_link", "jaw2_link"):
            text = text.replace(f'<link name="{link}"><inertial><mass value="0.05"/>', f'<link name="{link}"><inertial><mass value="0"/>')
        urdf.write_text(text.replace('<inertia ixx="0.0001" iyy="0.0001" izz="0.0001"', '<inertia ixx="0" iyy="0" izz="0"', 2))
        with pytest.raises(Exception, match="mass and inertia of moving bodies"):  # what MuJoCo says of the file
            __import__("mujoco").MjModel.from_xml_path(str(urdf))
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        lines = [line for line in result.check if "move on a joint but state no mass" in line]
        assert len(lines) == 1 and "(jaw_link (0.001 kg), jaw2_link (0.001 kg))" in lines[0]
        model = build_model(spec)
        np.testing.assert_allclose([model.body(b).mass[0] for b in ("jaw_link", "jaw2_link")], [1e-3, 1e-3])

    def test_a_frame_link_between_two_joints_and_rounding_noise_survive_the_written_mjcf(self, tmp_path):
        """example-robot-data's Human: '*_virtual' links (no <inertial>, no geometry) between the joints of a
        hip; the written MJCF did not compile ('mass and inertia of moving bodies'), as MuJoCo writes no
        <inertial> it was not given.  iCub: moments of 1e-20, rounding noise, which MuJoCo refuses."""
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        text = urdf.read_text().replace(
            '<joint name="FL_hip" type="revolute"><parent link="trunk"/><child link="FL_thigh"/>',
            '<link name="FL_virtual"/><joint name="FL_yaw" type="revolute"><parent link="trunk"/><child link="FL_virtual"/>'
            '<axis xyz="0 0 1"/><limit lower="-0.5" upper="0.5" effort="30" velocity="9"/></joint>'
            '<joint name="FL_hip" type="revolute"><parent link="FL_virtual"/><child link="FL_thigh"/>',
        )
        noise = '<inertia ixx="2.7e-20" iyy="5.4e-20" izz="1.3e-20" ixy="-1.7e-21" ixz="1.3e-20" iyz="3.4e-21"/>'
        text = text.replace('<link name="FR_calf"><inertial><mass value="0.3"/><inertia ixx="0.0006" iyy="0.0006" izz="0.0006" ixy="0" ixz="0" iyz="0"/>',
                            f'<link name="FR_calf"><inertial><mass value="0.3"/>{noise}')
        urdf.write_text(text)
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert any("FL_virtual (0.001 kg)" in line for line in result.check)
        assert any("'FR_calf' (0.3 kg: rounding noise" in line for line in result.check)
        model = build_model(spec)  # the written MJCF compiles on its own
        assert model.body("FL_virtual").mass[0] == pytest.approx(1e-3)
        np.testing.assert_allclose(model.body("FR_calf").inertia, [3e-5] * 3, rtol=1e-6)


class TestOverlappingLinks:
    def test_links_inside_each_other_in_the_zero_pose_do_not_collide_and_are_named(self, tmp_path):
        """example-robot-data's Romeo nests its hips in its pelvis (8.1 cm) and Talos its hip links (9.3 cm):
        MuJoCo pushed them apart at every reset; Romeo fell standing and stood once they were excluded."""
        inside = '<collision><origin xyz="0.15 0.1 -0.2"/><geometry><box size="0.04 0.04 0.04"/></geometry></collision>'
        urdf = quadruped_urdf(tmp_path / "dog.urdf", trunk_extra=inside)  # through the FL calf, not its parent
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        lines = [line for line in result.inferred if "excluded the contacts of 1 link pairs" in line]
        assert len(lines) == 1 and "FL_calf/base" in lines[0]
        model = build_model(spec)
        excluded = {(model.body(int(b1)).name, model.body(int(b2)).name) for b1, b2 in (
            divmod(int(sig), 1 << 16) for sig in model.exclude_signature)}
        assert excluded == {("base", "FL_calf")} or excluded == {("FL_calf", "base")}
        assert not any("inside each other" in line for line in result.check)
        plain, result = init_robot(quadruped_urdf(tmp_path / "plain.urdf"), tmp_path / "p" / "robot.yaml", FLOATING)
        assert build_model(plain).nexclude == 0 and not any("excluded the contacts" in line for line in result.inferred)


class TestSrdfPose:
    def test_the_srdf_beside_the_urdf_gives_the_default_pose_a_urdf_cannot_hold(self, tmp_path):
        """example-robot-data's Go1, HyQ, ANYmal, Solo, Talos, Romeo: no keyframe, so init stood them on
        straight legs, while their srdf/ folder states 'standing' and 'half_sitting'."""
        urdf = quadruped_urdf(tmp_path / "dog_description" / "urdf" / "dog.urdf")
        knees = {f"{leg}_knee": -1.2 for leg, _, _ in LEGS}
        srdf(tmp_path / "dog_description" / "srdf" / "dog.srdf", "dog", {"tuck": {"FL_knee": -2.0}, "standing": knees})
        srdf(tmp_path / "dog_description" / "srdf" / "cat.srdf", "cat", {"sitting": {**knees, "FL_hip": 1.0}})
        spec, result = init_robot(urdf, tmp_path / "out" / "robot.yaml", FLOATING)
        assert all(spec.default_pose[spec.joints.index(j)] == pytest.approx(-1.2) for j in knees)
        assert spec.default_pose[spec.joints.index("FL_hip")] == 0.0  # not the other robot's SRDF
        assert any("4 joints from the SRDF beside the URDF (group_state 'standing' of dog.srdf)" in line for line in result.inferred)
        assert any(line.startswith("no keyframe: 4 joints") for line in result.check)  # the hips are still qpos0
        yours = InitOptions(kp=30.0, kd=1.0, floating_base=True, default_pose={".*_hip": 0.1, "FL_knee": -0.8})
        spec, result = init_robot(urdf, tmp_path / "b" / "robot.yaml", yours)
        assert spec.default_pose[spec.joints.index("FL_knee")] == pytest.approx(-0.8)  # given wins
        assert spec.default_pose[spec.joints.index("RR_knee")] == pytest.approx(-1.2)
        assert any("3 joints from the SRDF" in line and "5 from your values" in line for line in result.inferred)
        assert not any("no keyframe" in line for line in result.check)


class TestModelFormat:
    def test_a_urdf_by_suffix_or_by_its_robot_root_and_mjcf_otherwise(self, tmp_path):
        (tmp_path / "a.urdf").write_text("<robot name='a'/>")
        (tmp_path / "b.xml").write_text("<?xml version='1.0'?>\n<!-- vendor -->\n<robot name='b'><link name='l'/></robot>")
        (tmp_path / "c.xml").write_text("<mujoco model='c'/>")
        assert [model_format(tmp_path / n) for n in ("a.urdf", "b.xml", "c.xml")] == ["urdf", "urdf", "mjcf"]

    @pytest.mark.parametrize(
        ("name", "words"),
        [
            ("go2.urdf.xacro", "xacro go2.urdf.xacro > go2.urdf"),
            ("anymal.xacro", "xacro anymal.xacro > anymal.urdf"),
            ("robot.sdf", "not .sdf (convert an SDF or USD model"),
            ("trunk.stl", "reads MJCF (.xml) and URDF (.urdf) models, not .stl"),
            ("broken.xml", "broken.xml: not valid XML"),
        ],
    )
    def test_what_it_cannot_read_is_one_line_naming_the_way_out(self, tmp_path, name, words):
        (tmp_path / name).write_text("<robot" if name.endswith(".xml") else "x")
        with pytest.raises(SpecError, match=re.escape(words)):
            model_format(tmp_path / name)


class TestNeverOverTheUsersFiles:
    def test_a_urdf_saved_as_xml_and_a_vendors_mjcf_beside_a_urdf_are_left_as_they_are(self, tmp_path):
        urdf = quadruped_urdf(tmp_path / "dog.urdf")
        as_xml = tmp_path / "dog2.xml"
        as_xml.write_text(urdf.read_text())  # a URDF under the MJCF suffix
        vendor = tmp_path / "dog.xml"
        vendor.write_text("<mujoco model='the vendor own MJCF'/>")
        for source in (as_xml, urdf):
            before = {p.name: p.read_text() for p in (as_xml, vendor)}
            spec, _ = init_robot(source, tmp_path / "robot.yaml", GAINS)  # the spec beside the model
            assert spec.mjcf_path.name == f"{source.stem}.from_urdf.xml"
            assert {p.name: p.read_text() for p in (as_xml, vendor)} == before
        again, _ = init_robot(urdf, tmp_path / "robot.yaml", GAINS)  # its own conversion: written over
        assert again.mjcf_path.name == "dog.from_urdf.xml"
        (tmp_path / "dog.from_urdf.xml").write_text("<mujoco model='also the user own'/>")
        with pytest.raises(SpecError, match=r"would overwrite dog.xml and dog.from_urdf.xml .* give --out in another folder"):
            init_robot(urdf, tmp_path / "robot.yaml", GAINS)
