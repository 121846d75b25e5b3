"""A vendor URDF to MJCF with MuJoCo's own compiler, its meshes found where a ROS workspace keeps them.

Vendor URDFs name meshes relative to the URDF (``meshes/trunk.stl``), absolutely, or through a ROS
package (``package://go2_description/meshes/trunk.stl``).  MuJoCo's URDF reader takes the text as a
file path, so :func:`resolve_mesh` finds the file first: a ``package://PKG/rest`` is looked up as
``DIR/rest`` for every folder ``DIR`` named ``PKG`` among the URDF's enclosing folders (a package
checked out as ``PKG/urdf/robot.urdf``), beside one of them (``robots/PKG`` next to
``robots/robot.urdf``, as pybullet_data keeps its xArm), or under ``ROS_PACKAGE_PATH`` and ``AMENT_PREFIX_PATH/share``
(an installed ROS workspace), else ``rest`` relative to the enclosing folders.  A mesh that is not
found, or that MuJoCo cannot read, is one error line naming it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import mujoco

from sim2real.errors import SpecError
from sim2real.robots.load import load_mjcf

MESH_SUFFIXES = (".stl", ".obj", ".msh")
"""Mesh formats MuJoCo reads."""


def _package_roots(package: str, urdf: Path) -> list[Path]:
    """Folders that may be ROS package ``package``, nearest first."""
    parents = urdf.resolve().parents
    roots = [p for p in parents if p.name == package]
    roots += [p / package for p in parents if (p / package).is_dir()]  # a package beside the URDF's folders
    for var, sub in (("ROS_PACKAGE_PATH", ""), ("AMENT_PREFIX_PATH", "share")):
        for entry in filter(None, os.environ.get(var, "").split(os.pathsep)):
            base = Path(entry) / sub
            roots.append(base if base.name == package else base / package)
    return roots


def resolve_mesh(name: str, urdf: Path, meshdir: str = "") -> Path:
    """The file a URDF's mesh ``filename`` refers to.

    Args:
        name: The ``filename`` attribute (relative, absolute, ``file://`` or ``package://``).
        urdf: The URDF file.
        meshdir: The URDF's ``<mujoco><compiler meshdir>`` (relative to the URDF), if any.

    Raises:
        SpecError: no such file, or MuJoCo cannot read its format.
    """
    text = name.removeprefix("file://")
    if text.startswith("package://"):
        package, _, rest = text.removeprefix("package://").partition("/")
        tried = [root / rest for root in _package_roots(package, urdf)]
        tried += [parent / rest for parent in urdf.resolve().parents]
    elif os.path.isabs(text):
        tried = [Path(text)]
    else:
        tried = [urdf.parent / meshdir / text, urdf.parent / text]
    tried = list(dict.fromkeys(tried))
    found = next((p for p in tried if p.is_file()), None)
    if found is None:
        where = ", ".join(str(p) for p in tried[:3]) + (" ..." if len(tried) > 3 else "")
        raise SpecError(f"{urdf.name}: mesh '{name}' not found (looked for {where})")
    if found.suffix.lower() not in MESH_SUFFIXES:
        raise SpecError(
            f"{urdf.name}: mesh '{name}' is {found.suffix or 'of no known format'}; MuJoCo reads "
            f"{', '.join(MESH_SUFFIXES)} meshes (convert it, or start from the robot's MJCF)"
        )
    return found.resolve()


def convert_urdf(urdf: Path, out_dir: Path, floating_base: bool) -> tuple[Path, list[str]]:
    """Convert a URDF to MJCF with MuJoCo's own compiler, meshes still resolvable.

    Returns:
        The MJCF path written in ``out_dir`` and the changes made, one line each.

    Raises:
        SpecError: a mesh is missing or unreadable, or the model does not compile.
    """
    mjspec = load_mjcf(urdf)
    notes = [f"converted {urdf.name} to MJCF with MuJoCo's URDF compiler"]
    out_dir.mkdir(parents=True, exist_ok=True)
    meshes = [(mesh, resolve_mesh(mesh.file, urdf, mjspec.meshdir)) for mesh in mjspec.meshes if mesh.file]
    for mesh, path in meshes:
        mesh.file = str(path)  # compiled from here: absolute; written relative to out_dir below
    mjspec.meshdir = ""
    if floating_base:
        root = mjspec.worldbody.first_body()
        if root is None:
            raise SpecError(f"{urdf.name}: no link to make a floating base of")
        root.add_freejoint(name="floating_base")
        mjspec.worldbody.add_geom(
            name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], rgba=[0.5, 0.55, 0.6, 1]
        )
        notes.append(f"added a free joint to link '{root.name}' and a floor plane named 'floor'")
    out = out_dir / f"{urdf.stem}.xml"
    try:
        mjspec.compile()
    except Exception as exc:
        if "balanceinertia" not in str(exc):
            raise SpecError(f"{urdf.name}: cannot convert to MJCF ({exc})") from None
        mjspec.compiler.balanceinertia = True  # a vendor's inertia that breaks A + B >= C: MuJoCo's own fix
        link = re.search(r"Element name '([^']*)'", str(exc))
        notes.append(
            f"the URDF states an impossible inertia (link '{link.group(1) if link else '?'}': A + B >= C fails): "
            "MuJoCo's balanceinertia evens its moments (the written MJCF holds the balanced values)"
        )
    try:
        mjspec.compile()
        xml = mjspec.to_xml()  # (to_xml compiles again: the files must stay absolute until written)
    except Exception as exc:
        raise SpecError(f"{urdf.name}: cannot convert to MJCF ({exc})") from None
    for _, path in meshes:
        xml = xml.replace(f'file="{path}"', f'file="{os.path.relpath(path, out_dir.resolve())}"')
    out.write_text(xml)
    return out, notes
