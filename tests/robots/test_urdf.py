"""Vendor URDFs: meshes named relative, absolute or through a ROS package resolve; bad ones are one line."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from sim2real.errors import SpecError
from sim2real.robots.init import InitOptions, init_robot
from sim2real.robots.model import build_model
from sim2real.robots.urdf import resolve_mesh


def _stl(path: Path) -> Path:
    """A binary STL tetrahedron of 10 cm edges."""
    v = [(0.0, 0.0, 0.0), (0.1, 0.0, 0.0), (0.0, 0.1, 0.0), (0.0, 0.0, 0.1)]
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(b"\0" * 80 + struct.pack("<I", len(faces)))
        for face in faces:
            fh.write(struct.pack("<3f", 0.0, 0.0, 0.0))
            for i in face:
                fh.write(struct.pack("<3f", *v[i]))
            fh.write(b"\0\0")
    return path


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
        _stl(tmp_path / "vendor" / "meshes" / "upper.dae")  # the bytes do not matter: the suffix does
        urdf = _urdf(tmp_path / "vendor" / "arm.urdf", "meshes/upper.dae")
        with pytest.raises(SpecError, match=r"mesh 'meshes/upper.dae' is .dae; MuJoCo reads"):
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
