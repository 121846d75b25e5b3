"""Small vendor-style URDFs written by tests: a Go1-like quadruped of primitive geoms, optionally with a
mimic-coupled gripper, a declared floating joint, a MuJoCo block and visual meshes."""

from __future__ import annotations

import struct
from pathlib import Path

INERTIA = '<inertia ixx="{i}" iyy="{i}" izz="{i}" ixy="0" ixz="0" iyz="0"/>'

IMU_POS = (-0.016, -0.067, -0.006)
"""Where the quadruped's ``imu_link`` is on its trunk [m] (Go1's URDF states (-0.01592, -0.06659, -0.00617))."""

LEGS = (("FL", 0.15, 0.1), ("FR", 0.15, -0.1), ("RL", -0.15, 0.1), ("RR", -0.15, -0.1))


def stl(path: Path, edge: float = 0.03) -> Path:
    """A binary STL tetrahedron of ``edge`` [m] edges (3 cm by default)."""
    v = [(0.0, 0.0, 0.0), (edge, 0.0, 0.0), (0.0, edge, 0.0), (0.0, 0.0, edge)]
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


def _link(name: str, mass: float, body: str = "", extra: str = "") -> str:
    inertial = f'<inertial><mass value="{mass}"/>{INERTIA.format(i=max(1e-5, 0.002 * mass))}</inertial>'
    return f'  <link name="{name}">{inertial}{body}{extra}</link>\n'


def _joint(name: str, parent: str, child: str, xyz: str, lower: float, upper: float, velocity: float, extra: str = "") -> str:
    return (
        f'  <joint name="{name}" type="revolute"><parent link="{parent}"/><child link="{child}"/>'
        f'<origin xyz="{xyz}"/><axis xyz="0 1 0"/>'
        f'<limit lower="{lower}" upper="{upper}" effort="30" velocity="{velocity}"/>{extra}</joint>\n'
    )


def quadruped_urdf(
    path: Path,
    *,
    leg: float = 0.3,
    hip_velocity: float = 9.0,
    knee_velocity: float = 20.0,
    imu: bool = True,
    imu_parent: str = "trunk",
    gripper: bool = False,
    floating_joint: bool = False,
    head: str = "",
    trunk_extra: str = "",
) -> Path:
    """Write a quadruped URDF: root link ``base`` (no inertia, as Go1's) welded to ``trunk`` (a box),
    ``imu_link`` welded to the trunk at :data:`IMU_POS`, and four legs (``X_hip`` and ``X_knee``
    about y, thigh and calf cylinders of ``leg / 2`` each, a 2 cm foot sphere).

    Args:
        path: The URDF file to write.
        leg: Leg length hip to foot centre [m].
        hip_velocity: ``<limit velocity>`` of the hips [rad/s].
        knee_velocity: ``<limit velocity>`` of the knees [rad/s].
        imu: Add the ``imu_link``.
        imu_parent: The link ``imu_link`` is welded to.
        gripper: Add ``jaw`` ([0, 0.5] rad, 2 rad/s) and ``jaw2`` following it (``<mimic multiplier="2">``,
            [0, 1] rad).
        floating_joint: Declare a ``floating`` joint from a ``world`` link (the vendors' "uncomment for
            MuJoCo" block).
        head: Text right after ``<robot>`` (a ``<mujoco>`` block).
        trunk_extra: Elements added to the trunk link (a ``<visual>``).
    """
    half = leg / 2
    text = f'<robot name="dog">\n{head}'
    if floating_joint:
        text += '  <link name="world"/>\n  <joint name="floating_base_joint" type="floating"><parent link="world"/><child link="base"/></joint>\n'
    text += '  <link name="base"/>\n  <joint name="trunk_fixed" type="fixed"><parent link="base"/><child link="trunk"/></joint>\n'
    text += _link("trunk", 6.0, '<collision><geometry><box size="0.4 0.2 0.1"/></geometry></collision>', trunk_extra)
    if imu:
        text += _link("imu_link", 0.001)
        text += (
            f'  <joint name="imu_joint" type="fixed"><parent link="{imu_parent}"/><child link="imu_link"/>'
            f'<origin xyz="{" ".join(map(str, IMU_POS))}"/></joint>\n'
        )
    for name, x, y in LEGS:
        thigh = f'<collision><origin xyz="0 0 {-half / 2}"/><geometry><cylinder radius="0.02" length="{half}"/></geometry></collision>'
        calf = (
            f'<collision><origin xyz="0 0 {-half / 2}"/><geometry><cylinder radius="0.015" length="{half}"/></geometry></collision>'
            f'<collision><origin xyz="0 0 {-half}"/><geometry><sphere radius="0.02"/></geometry></collision>'
        )
        text += _link(f"{name}_thigh", 0.5, thigh) + _link(f"{name}_calf", 0.3, calf)
        text += _joint(f"{name}_hip", "trunk", f"{name}_thigh", f"{x} {y} 0", -1.5, 1.5, hip_velocity)
        text += _joint(f"{name}_knee", f"{name}_thigh", f"{name}_calf", f"0 0 {-half}", -2.5, 0.3, knee_velocity)
    if gripper:
        box = '<collision><geometry><box size="0.02 0.02 0.02"/></geometry></collision>'
        text += _link("jaw_link", 0.05, box) + _link("jaw2_link", 0.05, box)
        text += _joint("jaw", "trunk", "jaw_link", "0.15 0 0.08", 0.0, 0.5, 2.0)
        text += _joint("jaw2", "trunk", "jaw2_link", "0.1 0 0.08", 0.0, 1.0, 2.0, '<mimic joint="jaw" multiplier="2" offset="0"/>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "</robot>\n")
    return path


def collada_box(path: Path, size: tuple[float, float, float], *, offset: tuple[float, float, float] = (0, 0, 0), unit: float = 1.0, up: str = "Z_UP") -> Path:
    """A Collada file of one box, centred at the origin of its geometry, placed by its visual scene's
    node at ``offset`` (a ``<translate>`` and a ``<scale>`` of 2 that halves ``size``'s coordinates),
    with the ``<unit meter>`` ``unit``: the box spans ``offset +- size / 2`` in the file's units.

    Its six faces are quads of a ``<polylist>`` with a NORMAL input at offset 1 besides the vertex at 0
    (as Blender writes them).
    """
    hx, hy, hz = (s / 4 for s in size)  # halved again by the node's scale of 2
    corners = [(x, y, z) for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    positions = " ".join(f"{c:g}" for corner in corners for c in corner)
    p = " ".join(f"{v} {face}" for face, quad in enumerate(quads) for v in quad)
    ox, oy, oz = offset
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""<?xml version="1.0" encoding="utf-8"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
  <asset><unit name="unit" meter="{unit}"/><up_axis>{up}</up_axis></asset>
  <library_geometries><geometry id="box-mesh"><mesh>
    <source id="box-pos"><float_array id="box-pos-array" count="24">{positions}</float_array>
      <technique_common><accessor source="#box-pos-array" count="8" stride="3"/></technique_common></source>
    <source id="box-normal"><float_array id="box-normal-array" count="18">0 0 -1 0 0 1 -1 0 0 1 0 0 0 -1 0 0 1 0</float_array>
      <technique_common><accessor source="#box-normal-array" count="6" stride="3"/></technique_common></source>
    <vertices id="box-vertices"><input semantic="POSITION" source="#box-pos"/></vertices>
    <polylist count="6"><input semantic="VERTEX" source="#box-vertices" offset="0"/>
      <input semantic="NORMAL" source="#box-normal" offset="1"/>
      <vcount>4 4 4 4 4 4</vcount><p>{p}</p></polylist>
  </mesh></geometry></library_geometries>
  <library_visual_scenes><visual_scene id="Scene">
    <node id="Box"><translate>{ox} {oy} {oz}</translate><scale>2 2 2</scale>
      <instance_geometry url="#box-mesh"/></node>
  </visual_scene></library_visual_scenes>
  <scene><instance_visual_scene url="#Scene"/></scene>
</COLLADA>
"""
    )
    return path


def ascii_stl_box(path: Path, size: tuple[float, float, float]) -> Path:
    """An ASCII STL of a box ``size`` [m] centred at the origin (twelve facets, as Blender exports)."""
    hx, hy, hz = (s / 2 for s in size)
    corners = [(x, y, z) for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    lines = ["solid box"]
    for a, b, c, d in quads:
        for tri in ((a, b, c), (a, c, d)):
            lines += ["facet normal 0 0 0", "outer loop"]
            lines += [f"vertex {corners[i][0]:g} {corners[i][1]:g} {corners[i][2]:g}" for i in tri]
            lines += ["endloop", "endfacet"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*lines, "endsolid box"]) + "\n")
    return path


def srdf(path: Path, robot: str, states: dict[str, dict[str, float]]) -> Path:
    """An SRDF of robot ``robot`` with ``<group_state>``s (name -> joint -> value) and a ``root_joint``
    of seven values in each, as example-robot-data writes its floating base."""
    text = f'<?xml version="1.0"?>\n<robot name="{robot}">\n  <group name="all_legs"/>\n'
    for name, pose in states.items():
        text += f'  <group_state name="{name}" group="all_legs">\n'
        text += '    <joint name="root_joint" value="0 0 0.3 0 0 0 1"/>\n'
        text += "".join(f'    <joint name="{j}" value="{v}"/>\n' for j, v in pose.items())
        text += "  </group_state>\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "</robot>\n")
    return path
