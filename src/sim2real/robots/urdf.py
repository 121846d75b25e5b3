"""A vendor URDF to MJCF with MuJoCo's own compiler, its meshes found where a ROS workspace keeps them.

Vendor URDFs name meshes relative to the URDF (``meshes/trunk.stl``), absolutely, or through a ROS
package (``package://go2_description/meshes/trunk.stl``).  MuJoCo's URDF reader takes the text as a
file path, so :func:`resolve_mesh` finds the file first: a ``package://PKG/rest`` is looked up as
``DIR/rest`` for every folder ``DIR`` named ``PKG`` among the URDF's enclosing folders (a package
checked out as ``PKG/urdf/robot.urdf``), beside one of them (``robots/PKG`` next to
``robots/robot.urdf``, as pybullet_data keeps its xArm), or under ``ROS_PACKAGE_PATH`` and ``AMENT_PREFIX_PATH/share``
(an installed ROS workspace), else ``rest`` relative to the enclosing folders.  A Collada (``.dae``) or ASCII
STL mesh, which MuJoCo cannot read, is rewritten as a binary STL beside the converted MJCF
(:mod:`sim2real.robots.mesh_convert`), said in one line.  A mesh that is not found, or that cannot be
read, is one error line naming it, unless only visual geoms use it: those are dropped, said in one line.

MuJoCo's URDF reader drops what it has no field for; :func:`read_urdf` reads it from the text
(joint velocity limits, ``<mimic>`` couplings, and the reference pose of an SRDF beside the URDF, which
stands for the keyframe a URDF cannot hold), and :func:`convert_urdf` keeps what fusing fixed links
would lose (a fixed link named like ``imu`` becomes a site where it was).  What vendors' URDFs get
wrong that MuJoCo refuses and that has one repair is mended and said: a placeholder inertia (one
number in all six fields), principal moments that break A + B >= C, a link moving on a joint with no
mass, and links drawn inside each other (their contacts excluded).
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from sim2real.errors import SpecError
from sim2real.robots.init_checks import SELF_OVERLAP
from sim2real.robots.load import load_mjcf
from sim2real.robots.mesh_convert import convert_mesh, is_ascii_stl, needs_conversion
from sim2real.text import few

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
        SpecError: no such file.
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
    return found.resolve()


def check_readable(path: Path, name: str, urdf: Path) -> None:
    """Raise when MuJoCo cannot read the mesh file ``path`` (the URDF's ``name`` for it).

    Raises:
        SpecError: not STL, OBJ or MSH, or an ASCII STL (MuJoCo reads binary STL).
    """
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise SpecError(
            f"{urdf.name}: mesh '{name}' is {path.suffix or 'of no known format'}; MuJoCo reads "
            f"{', '.join(MESH_SUFFIXES)} meshes (convert it, or start from the robot's MJCF)"
        )
    if path.suffix.lower() == ".stl" and is_ascii_stl(path):
        raise SpecError(f"{urdf.name}: mesh '{name}' is an ASCII STL; MuJoCo reads binary STL (convert it)")


@dataclass(frozen=True)
class Mimic:
    """A URDF ``<mimic>``: the joint follows ``leader`` as ``q = multiplier * q_leader + offset``
    (MuJoCo's importer makes it a joint equality constraint)."""

    leader: str
    """The joint it follows."""
    multiplier: float = 1.0
    """Gain of the coupling [1]."""
    offset: float = 0.0
    """Offset of the coupling [rad or m]."""


@dataclass(frozen=True)
class UrdfFacts:
    """What a URDF's text states that MuJoCo's compiled model does not hold."""

    velocity: dict[str, float] = field(default_factory=dict)
    """Joint name -> the ``<limit velocity>`` it states [rad/s, m/s for prismatic joints]; only
    positive values (a ``velocity="0"`` says nothing)."""
    mimic: dict[str, Mimic] = field(default_factory=dict)
    """Follower joint name -> its coupling to its leader."""
    visual_meshes: frozenset[str] = frozenset()
    """Mesh ``filename``s of ``<visual>`` elements."""
    collision_meshes: frozenset[str] = frozenset()
    """Mesh ``filename``s of ``<collision>`` elements."""
    srdf_pose: dict[str, float] = field(default_factory=dict)
    """Joint name -> position [rad or m] of the reference pose an SRDF beside the URDF states
    (:func:`read_srdf_pose`); empty without one."""
    srdf_source: str = ""
    """Where ``srdf_pose`` comes from, in words (``group_state 'standing' of go1.srdf``)."""


def _srdf_files(urdf: Path, robot: str) -> list[Path]:
    """SRDF files beside ``urdf`` (in its folder and in a sibling ``srdf/`` folder: a ROS description
    package's ``urdf/`` and ``srdf/``) named like the URDF (first) or stating robot name ``robot``
    (Talos's ``talos.srdf`` for ``talos_reduced.urdf``; Bolt's ``bolt.srdf`` names another robot)."""
    found = []
    for folder in (urdf.parent, urdf.parent.parent / "srdf"):
        if folder.is_dir():
            found += sorted(folder.glob("*.srdf"), key=lambda f: f.stem != urdf.stem)
    mine = []
    for path in found:
        try:
            if path.stem == urdf.stem or ET.parse(path).getroot().get("name") == robot:
                mine.append(path)
        except (ET.ParseError, OSError):
            continue
    return mine


def read_srdf_pose(urdf: Path, robot: str, joints: set[str]) -> tuple[dict[str, float], str]:
    """The reference pose an SRDF beside the URDF states (a ``<group_state>``: MoveIt's named states,
    example-robot-data's ``standing`` and ``half_sitting``), and where it comes from.

    The SRDF is one of :func:`_srdf_files`; its state is the one naming the most of ``joints`` (the
    first of equals).  Values of joints not in ``joints`` and values of more than one number (a free
    or continuous joint's) are left out.

    Returns:
        ``({joint: position [rad or m]}, "group_state 'NAME' of FILE")``, or ``({}, "")``.
    """
    best: tuple[dict[str, float], str] = ({}, "")
    for path in _srdf_files(urdf, robot):
        try:
            states = ET.parse(path).getroot().findall("group_state")
        except (ET.ParseError, OSError):
            continue
        for state in states:
            pose = {}
            for joint in state.findall("joint"):
                name, value = joint.get("name"), (joint.get("value") or "").split()
                if name in joints and len(value) == 1:
                    try:
                        pose[name] = float(value[0])
                    except ValueError:
                        continue
            if len(pose) > len(best[0]):
                best = (pose, f"group_state '{state.get('name')}' of {path.name}")
    return best


def _float(text: str | None, default: float) -> float:
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


def _unexpanded(root: ET.Element, urdf: Path) -> None:
    """Raise on the first attribute holding a xacro substitution (``$(...)``, ``${...}``) the file was
    published with unexpanded (pybullet_data's husky.urdf: an IMU joint's ``<origin
    rpy="$(optenv HUSKY_IMU_RPY 0 -1.5708 3.1416)">``, which MuJoCo reports as "bad format in
    attribute 'rpy'", naming no element)."""
    for owner in root:
        for element in owner.iter():
            for attribute, value in element.attrib.items():
                if "$(" in value or "${" in value:
                    where = f"{owner.tag} '{owner.get('name', '?')}'" + (f" <{element.tag}>" if element is not owner else "")
                    raise SpecError(
                        f"{urdf.name}: {where} has {attribute}=\"{value}\", a xacro expression left unexpanded: "
                        "expand the file with xacro (pip install xacro; xacro FILE > robot.urdf) or write the value in"
                    )


def read_urdf(urdf: Path) -> UrdfFacts:
    """The joint velocity limits, mimic couplings and mesh uses of a URDF (its ``<robot>``'s own
    ``<joint>`` and ``<link>`` elements: a ``<transmission>``'s joints are not joints), and the
    reference pose of an SRDF beside it.

    Raises:
        SpecError: the file is not XML, holds an unexpanded xacro expression, or its robot has no link
            or no movable joint.
    """
    try:  # NUL bytes after the last element, which MuJoCo's and pybullet's parsers pass by (pybullet's humanoid.urdf)
        root = ET.fromstring(urdf.read_bytes().rstrip(b"\x00 \t\r\n"))
    except (ET.ParseError, OSError) as exc:
        raise SpecError(f"{urdf.name}: not a readable URDF ({exc})") from None
    _unexpanded(root, urdf)
    if root.find("link") is None:  # example-robot-data's ur3.urdf: xacro's output of a file of macros never called
        raise SpecError(f"{urdf.name} has no <link>: an empty robot (xacro's output of macros never called?)")
    velocity, mimic = {}, {}
    for joint in root.findall("joint"):
        name = joint.get("name")
        if not name or joint.get("type") not in ("revolute", "continuous", "prismatic"):
            continue
        limit = joint.find("limit")
        v = _float(limit.get("velocity") if limit is not None else None, 0.0)
        if math.isfinite(v) and v > 0:
            velocity[name] = v
        coupling = joint.find("mimic")
        if coupling is not None and coupling.get("joint"):
            mimic[name] = Mimic(
                str(coupling.get("joint")), _float(coupling.get("multiplier"), 1.0), _float(coupling.get("offset"), 0.0)
            )
    meshes: dict[str, set[str]] = {"visual": set(), "collision": set()}
    for link in root.findall("link"):
        for kind, files in meshes.items():
            for element in link.findall(kind):
                files.update(m.get("filename", "") for m in element.iter("mesh") if m.get("filename"))
    movable = {j.get("name") for j in root.findall("joint") if j.get("type") in ("revolute", "continuous", "prismatic")}
    if not movable:  # hector's quadrotor_base.urdf: links welded by fixed joints, one rigid body
        raise SpecError(f"{urdf.name} has no movable joint (revolute, continuous or prismatic): nothing to control")
    srdf_pose, srdf_source = read_srdf_pose(urdf, root.get("name", ""), movable)
    return UrdfFacts(
        velocity, mimic, frozenset(meshes["visual"]), frozenset(meshes["collision"]), srdf_pose, srdf_source
    )


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_urdf` wrote and found."""

    mjcf: Path
    """The MJCF written."""
    inferred: list[str]
    """What the conversion did, one line each."""
    check: list[str]
    """What the user must check, one line each."""
    facts: UrdfFacts
    """What the URDF states beyond the model (velocity limits, mimic couplings)."""


def _compile_error(urdf: Path, exc: Exception) -> SpecError:
    """One line of MuJoCo's (multi-line) compiler error, with the fix of the errors vendors' URDFs make."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    link = re.search(r"Element name '([^']*)'", text)
    if "positive eigenvalues" in text:
        return SpecError(
            f"{urdf.name}: link '{link.group(1) if link else '?'}' states an inertia that is not physical (its tensor "
            "has a non-positive eigenvalue): fix that link's <inertia> in the URDF (MuJoCo's balanceinertia compiler "
            f"option evens principal moments, it cannot repair this one) (MuJoCo: {text})"
        )
    if mesh := re.search(r"mesh volume is (?:too small|negative)[^']*'([^']*)'", text):
        return SpecError(
            f"{urdf.name}: mesh '{mesh.group(1)}' has no volume MuJoCo can take (flat, open or misoriented triangles) "
            "and a link takes its mass from it (no <inertial>, or inertiafromgeom=\"true\"): give that link its "
            f"<inertial> in the URDF, or mend the mesh (MuJoCo: {text})"
        )
    return SpecError(f"{urdf.name}: cannot convert to MJCF ({text})")


def _meshes(mjspec: mujoco.MjSpec, urdf: Path, facts: UrdfFacts, out_dir: Path, notes: list[str]) -> list[Path]:
    """Resolve every mesh (made absolute); rewrite a Collada or ASCII STL one as a binary STL in
    ``out_dir`` (unless only visual geoms MuJoCo discards use it); drop the visual geoms of a mesh that
    is not found or not readable when only ``<visual>`` elements use it; both said in ``notes``."""
    found, dropped, converted = [], [], []
    for mesh in list(mjspec.meshes):
        if not mesh.file:
            continue
        visual_only = mesh.file in facts.visual_meshes and mesh.file not in facts.collision_meshes
        try:
            path = resolve_mesh(mesh.file, urdf, mjspec.meshdir)
            if needs_conversion(path) and not (visual_only and mjspec.compiler.discardvisual):
                try:
                    path = convert_mesh(path, out_dir / f"{urdf.stem}_converted_meshes").resolve()
                except SpecError as exc:
                    raise SpecError(f"{urdf.name}: mesh '{mesh.file}' cannot be converted for MuJoCo ({exc})") from None
                converted.append(mesh.file)
            check_readable(path, mesh.file, urdf)
        except SpecError:
            if not visual_only:
                raise
            for geom in [g for g in mjspec.geoms if g.meshname == mesh.name]:
                mjspec.delete(geom)
            dropped.append(mesh.file)
            mjspec.delete(mesh)
            continue
        mesh.file = str(path)  # compiled from here: absolute; written relative to out_dir later
        found.append(path)
    if converted:
        kinds = sorted({"Collada" if Path(f).suffix.lower() == ".dae" else "ASCII STL" for f in converted})
        notes.append(
            f"rewrote {len(converted)} meshes MuJoCo cannot read ({' and '.join(kinds)}) as binary "
            f"STL in {urdf.stem}_converted_meshes/ beside the MJCF ({few(converted, 2)}); the vendor's files are unchanged"
        )
    if dropped:
        kinds = sorted({Path(f).suffix.lower() or "no suffix" for f in dropped})
        notes.append(
            f"dropped the visual geoms of {len(dropped)} meshes MuJoCo cannot read or find ({', '.join(kinds)}: "
            f"{few(dropped, 3)}); collision geoms are unchanged"
        )
    return found


MASSLESS_MASS = 1e-3
"""Mass [kg] given to a link that moves on a joint but states no mass (a frame link)."""

MASSLESS_INERTIA = 1e-7
"""Principal moments [kg m^2] given with :data:`MASSLESS_MASS` (a 1 g body about 1 cm across)."""


def _small_body_inertia(mass: float) -> list[float]:
    """The full inertia (ixx, iyy, izz, ixy, ixz, iyz) [kg m^2] of a body of ``mass`` [kg] about 1 cm
    across, at least :data:`MASSLESS_INERTIA`."""
    return [max(MASSLESS_INERTIA, mass * 1e-4)] * 3 + [0.0] * 3


NOISE_INERTIA = 1e-12
"""Largest inertia entry [kg m^2] that is rounding noise, not a body's (iCub's 1e-20 products on zero moments)."""


def _placeholder_inertias(mjspec: mujoco.MjSpec) -> list[str]:
    """Mend the inertia tensors MuJoCo refuses (a non-positive eigenvalue) whose error is plain, and
    name them.

    A physical tensor's products are each at most half a moment (``|Ixy| <= Izz / 2``); vendors fill
    the six fields of a frame link with one number (Go1's and ANYmal B's ``base``, 1e-6 everywhere;
    ANYmal C's ``hatch``, 0.001): products no larger than the moments, or any products on a link of
    :data:`MASSLESS_MASS` or less (TIAGo's 1 mg antennas), are dropped and the moments kept.  A tensor of
    rounding noise (every entry below :data:`NOISE_INERTIA`) becomes a body's 1 cm about
    (``mass * 1e-4`` kg m^2, at least :data:`MASSLESS_INERTIA`).  A diagonal tensor with a zero
    moment (an ideal thin rod: the EDU finger's lower link) gets that moment at 1e-3 of the largest.
    Other tensors (products far above the moments of a heavy link, legged_gym's Cassie) are left to
    MuJoCo's error: what they should be cannot be guessed.

    Returns:
        The links changed, one phrase each: name, mass and what was done.
    """
    changed = []
    for body in mjspec.bodies:
        full = np.asarray(body.fullinertia, dtype=float)
        if not np.all(np.isfinite(full)) or not np.any(full):
            continue
        moments, products = full[:3], full[3:]
        upper = np.zeros((3, 3))
        upper[np.triu_indices(3, 1)] = products  # xy, xz, yz
        tensor = np.diag(moments) + upper + upper.T
        noise = np.abs(full).max() < NOISE_INERTIA  # MuJoCo refuses those however they round
        if not noise and np.linalg.eigvalsh(tensor)[0] > 1e-9 * np.abs(moments).max():
            continue
        if noise:  # (a zero fullinertia is refused too)
            mended, what = _small_body_inertia(body.mass), "rounding noise: a 1 cm body's"
        elif moments.min() > 0 and (np.abs(products).max() <= moments.min() or body.mass <= MASSLESS_MASS):
            mended, what = [*moments, 0.0, 0.0, 0.0], "products dropped"
        elif np.abs(products).max() < NOISE_INERTIA and moments.min() >= 0:
            mended, what = [*np.maximum(moments, 1e-3 * moments.max()), 0.0, 0.0, 0.0], "a zero moment at 1e-3 of the largest"
        else:
            continue
        body.fullinertia = mended
        changed.append(f"'{body.name}' ({body.mass:g} kg: {what})")
    return changed


def _exclude_overlaps(mjspec: mujoco.MjSpec, model: mujoco.MjModel) -> list[str]:
    """Exclude the contacts of link pairs whose collision geoms are inside each other (deeper than
    :data:`~sim2real.robots.init_checks.SELF_OVERLAP`) in the URDF's zero pose, the pose it is drawn in.

    A URDF made for a simulator without self-collision nests its links (Talos's hip links 1 and 3,
    9.3 cm; Romeo's hips in its pelvis, 8.1 cm); MuJoCo collides every pair that is not parent and
    child, and pushes them apart at every reset.  A URDF has no element for the exclusion: the written
    MJCF holds it.

    Returns:
        The pairs excluded, ``"a/b 9.3 cm"`` each, deepest first.
    """
    data = mujoco.MjData(model)
    mujoco.mj_fwdPosition(model, data)
    deepest: dict[tuple[str, str], float] = {}
    for c in data.contact[: data.ncon]:
        bodies = [int(model.geom_bodyid[g]) for g in (c.geom1, c.geom2)]
        if c.dist >= -SELF_OVERLAP or 0 in bodies or bodies[0] == bodies[1]:
            continue  # a touch, the ground, or one link
        a, b = sorted(model.body(i).name for i in bodies)
        deepest[(a, b)] = min(deepest.get((a, b), 0.0), float(c.dist))
    pairs = sorted(deepest.items(), key=lambda kv: kv[1])
    for (a, b), _ in pairs:
        mjspec.add_exclude(bodyname1=a, bodyname2=b)
    return [f"{a}/{b} {-100 * d:.1f} cm" for (a, b), d in pairs]


def _imu_sites(mjspec: mujoco.MjSpec, notes: list[str]) -> None:
    """A site at the origin of every fixed leaf link named like ``imu``: MuJoCo fuses the link into
    its parent (``fusestatic``) and the site goes with it, where the link was."""
    taken = {s.name for s in mjspec.sites}
    for body in list(mjspec.bodies):
        if "imu" not in body.name.lower() or body.joints or body.first_body() is not None or body.name in taken:
            continue
        body.add_site(name=body.name)
        notes.append(
            f"the URDF's fixed link '{body.name}' (on link '{body.parent.name}') becomes site '{body.name}' at its "
            "pose: MuJoCo fuses fixed links into their parents, the IMU frame would be lost"
        )


def convert_urdf(urdf: Path, out_dir: Path, floating_base: bool) -> Conversion:
    """Convert a URDF to MJCF with MuJoCo's own compiler, meshes still resolvable.

    Raises:
        SpecError: a collision mesh is missing or unreadable, or the model does not compile.
    """
    facts = read_urdf(urdf)
    mjspec = load_mjcf(urdf)
    notes = [f"converted {urdf.name} to MJCF with MuJoCo's URDF compiler"]
    visuals = (
        "MuJoCo drops visual geoms"
        if mjspec.compiler.discardvisual
        else 'visual geoms kept, as the URDF\'s discardvisual="false" asks'
    )
    check = [f"the URDF conversion ({visuals}; check collision geoms and inertia)"]
    out_dir.mkdir(parents=True, exist_ok=True)
    meshes = _meshes(mjspec, urdf, facts, out_dir, notes)
    mjspec.meshdir = ""
    _imu_sites(mjspec, notes)
    placeholders = _placeholder_inertias(mjspec)
    if placeholders:
        check.append(
            f"{len(placeholders)} links state an inertia no body has, which MuJoCo refuses (a placeholder: one number "
            f"in all six fields, rounding noise, a zero moment): {few(placeholders)} (the written MJCF holds the mended values): give real values in "
            "the URDF if those links carry mass"
        )
    if floating_base:
        root = mjspec.worldbody.first_body()
        if root is None:
            raise SpecError(f"{urdf.name}: no link to make a floating base of")
        own = next((j for j in root.joints if j.type == mujoco.mjtJoint.mjJNT_FREE), None)
        if own is None:
            root.add_freejoint(name="floating_base")
        mjspec.worldbody.add_geom(
            name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05], rgba=[0.5, 0.55, 0.6, 1]
        )
        notes.append(
            f"added a free joint to link '{root.name}' and a floor plane named 'floor'"
            if own is None
            else f"the URDF declares its own floating joint '{own.name}' on link '{root.name}': --floating-base "
            "adds no second one (MuJoCo cannot stack them), only a floor plane named 'floor'"
        )
    out = _converted_path(urdf, out_dir)
    model = _compile_with_fixes(mjspec, urdf, notes, check)
    if oversized := _oversized_inertias(model):
        check.append(
            f"{len(oversized)} {'links state inertias' if len(oversized) > 1 else 'link states an inertia'} far "
            "beyond what their collision geoms span (radius of gyration sqrt(I / m) "
            f"over {GYRATION_REACH:g}x their reach from the centre of mass): {few(oversized)}: a placeholder "
            "(pybullet computes a link's inertia from its collision shapes unless told to read the file's; "
            "MuJoCo takes the file's): give real values in the URDF"
        )
    try:
        excluded = _exclude_overlaps(mjspec, model)
        xml = mjspec.to_xml()  # (to_xml compiles again: the files must stay absolute until written)
        # to_xml rounds the inertias it writes (6 digits): a link on the edge of A + B >= C (TIAGo's, Allegro's
        # once balanced) broke it in the written file, which did not compile; balancing mends only those
        xml = xml.replace("<compiler ", '<compiler balanceinertia="true" ', 1)
    except Exception as exc:
        raise _compile_error(urdf, exc) from None
    if excluded:
        notes.append(
            f"excluded the contacts of {len(excluded)} link pairs inside each other in the URDF's zero pose "
            f"({few(excluded, 3)}): made for a simulator without "
            "self-collision, they would be pushed apart at every reset (the written MJCF's <contact><exclude>)"
        )
    for path in meshes:
        xml = xml.replace(f'file="{path}"', f'file="{os.path.relpath(path, out_dir.resolve())}"')
    out.write_text(f"{_MARK}{urdf.name} -->\n{xml}")
    return Conversion(out, notes, check, facts)


def _children_all_move(body: mujoco.MjsBody) -> bool:
    """Whether ``body`` has child bodies and each moves on a joint of its own (none is fused into it)."""
    child, children = body.first_body(), []
    while child is not None:
        children.append(child)
        child = body.next_body(child)
    return bool(children) and all(c.joints for c in children)


def _compile_with_fixes(mjspec: mujoco.MjSpec, urdf: Path, notes: list[str], check: list[str]) -> mujoco.MjModel:
    """Compile, mending what vendors' URDFs get wrong that MuJoCo refuses and that has one repair:
    principal moments that break A + B >= C (MuJoCo's ``balanceinertia``, said in ``notes``) and links
    that move on a joint with no mass (frame or sensor links Pinocchio accepts: given
    :data:`MASSLESS_MASS` and :data:`MASSLESS_INERTIA`, named in ``check``).

    Returns:
        The compiled model.

    Raises:
        SpecError: any other compile error, in one line.
    """
    massless: list[str] = []
    hulls: list[str] = []

    def give_mass(body: mujoco.MjsBody) -> None:
        mass = body.mass if body.mass > MASSLESS_MASS else MASSLESS_MASS
        body.mass = mass
        body.fullinertia = _small_body_inertia(mass)  # a body 1 cm about
        body.explicitinertial = True  # written into the MJCF (a link without <inertial> has none) ...
        if not np.all(np.isfinite(body.ipos)):
            body.ipos = [0.0, 0.0, 0.0]  # ... when its position is set too
        massless.append(f"{body.name} ({mass:g} kg)")

    for body in mjspec.bodies:  # a frame link on a joint (Human's *_virtual): compiled here, not from the written file
        moving = [j for j in body.joints if j.type != mujoco.mjtJoint.mjJNT_FREE]
        if moving and not body.explicitinertial and not body.geoms and _children_all_move(body):
            give_mass(body)
    while True:
        try:
            model = mjspec.compile()
            break
        except Exception as exc:
            text = str(exc)
            found = re.search(r"Element name '([^']*)'", text)
            link = found.group(1) if found else "?"
            body = mjspec.body(link) if found else None
            if "balanceinertia" in text and not mjspec.compiler.balanceinertia:
                mjspec.compiler.balanceinertia = True  # a vendor's inertia that breaks A + B >= C: MuJoCo's own fix
                links = [link, *(b for b in _unbalanced(mjspec) if b != link)]  # MuJoCo names the first alone
                what = f"an impossible inertia (link '{link}'" if len(links) == 1 else (
                    f"impossible inertias ({len(links)} links: {few([repr(b) for b in links])}"
                )
                notes.append(
                    f"the URDF states {what}: A + B >= C fails): MuJoCo's balanceinertia evens "
                    f"{'its' if len(links) == 1 else 'their'} moments (the written MJCF holds the balanced values)"
                )
            elif re.search("mesh volume is (too small|negative)", text) and found and _hull_inertia(mjspec, link, hulls):
                pass  # a mesh of misoriented triangles (Alex's nub.obj): its convex hull's volume, as its collisions use
            elif "mass and inertia of moving bodies" in text and body is not None and not any(
                m.startswith(f"{link} (") for m in massless
            ):
                give_mass(body)
            else:
                raise _compile_error(urdf, exc) from None
    if hulls:
        notes.append(
            f"MuJoCo cannot take the volume of mesh {few(hulls, 3)}, "
            "its triangles flat, open or misoriented: it places the geom by its convex hull (inertia=\"convex\"), as MuJoCo "
            "collides it; the links' mass and inertia are the URDF's <inertial>"
        )
    if massless:
        check.append(
            f"{len(massless)} links move on a joint but state no mass or no inertia ({few(massless)}), which MuJoCo cannot simulate: given at least {MASSLESS_MASS:g} kg "
            "and the inertia of a body 1 cm about, at least "
            f"{MASSLESS_INERTIA:g} kg m^2 (the written MJCF holds them): give their real mass and inertia in the URDF "
            "if they have any, and armature to their joints (--armature) if a policy drives them"
        )
    return model


GYRATION_REACH = 3.0
"""A link's radius of gyration more than this many times the reach of its collision geoms from its
centre of mass is named as a placeholder (a mass within radius R has sqrt(I / m) <= R)."""


def _oversized_inertias(model: mujoco.MjModel) -> list[str]:
    """Links whose largest principal moment is far beyond what their collision geoms span
    (:data:`GYRATION_REACH`), with mass, moment, radius of gyration and reach: pybullet's
    minitaur.urdf gives its 50 g lower legs 1 kg m^2 (a 4.5 m radius of gyration on a 0.2 m rod)."""
    out = []
    for body in range(1, model.nbody):
        mass = float(model.body_mass[body])
        plane = mujoco.mjtGeom.mjGEOM_PLANE
        geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] == body and model.geom_type[g] != plane]
        if mass <= 0 or not geoms:
            continue
        reach = max(
            float(np.linalg.norm(model.geom_pos[g] - model.body_ipos[body])) + float(model.geom_rbound[g]) for g in geoms
        )
        moment = float(np.max(model.body_inertia[body]))
        gyration = math.sqrt(moment / mass)
        if gyration > GYRATION_REACH * reach:
            out.append(f"{model.body(body).name} ({mass:g} kg, {moment:.3g} kg m^2: {gyration:.2g} m against {reach:.2g} m)")
    return out


def _unbalanced(mjspec: mujoco.MjSpec) -> list[str]:
    """The bodies whose stated principal moments break A + B >= C (the largest above the sum of the
    other two), in model order: the ones ``balanceinertia`` evens.  MuJoCo's compile error names the
    first alone (pybullet's Mini Cheetah: four thighs of one tensor, 'thigh_fr' said)."""
    out = []
    for body in mjspec.bodies:
        if not body.explicitinertial:
            continue
        full = np.asarray(body.fullinertia, dtype=float)
        if np.all(np.isfinite(full)):  # xx, yy, zz, xy, xz, yz
            tensor = np.array([[full[0], full[3], full[4]], [full[3], full[1], full[5]], [full[4], full[5], full[2]]])
            moments = np.linalg.eigvalsh(tensor)
        else:  # unset (its first value NaN): the principal moments
            moments = np.sort(np.asarray(body.inertia, dtype=float))
        if moments[0] + moments[1] < moments[2]:
            out.append(body.name)
    return out


def _hull_inertia(mjspec: mujoco.MjSpec, name: str, hulls: list[str]) -> bool:
    """Give mesh ``name`` its convex hull's inertia, said in ``hulls``, when it has one to give and every
    body that uses it states its own inertial and the compiler does not override it with the geoms'
    (``inertiafromgeom="true"``): its mesh then only places the geom, where a body that took its mass
    from the mesh would get the hull's.  Whether it did."""
    mesh = mjspec.mesh(name)
    if mesh is None or mesh.inertia == mujoco.mjtMeshInertia.mjMESH_INERTIA_CONVEX:
        return False
    if mjspec.compiler.inertiafromgeom == mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_TRUE or any(
        g.meshname == name and not g.parent.explicitinertial for g in mjspec.geoms
    ):
        return False  # a body's mass from the mesh: not the hull's to give
    mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_CONVEX
    hulls.append(f"'{name}' ({Path(mesh.file).name})")
    return True


_MARK = "<!-- written by sim2real robot init from "
"""First line of every MJCF converted from a URDF: the file :func:`convert_urdf` may write over."""


def _converted_path(urdf: Path, out_dir: Path) -> Path:
    """Where the MJCF converted from ``urdf`` goes: ``STEM.xml`` in ``out_dir``, or ``STEM.from_urdf.xml``
    where that is the URDF itself (a URDF saved as .xml) or a file sim2real did not write (a vendor's
    MJCF beside its URDF): never over the user's own files.

    Raises:
        SpecError: both names are taken by files sim2real did not write.
    """
    for out in (out_dir / f"{urdf.stem}.xml", out_dir / f"{urdf.stem}.from_urdf.xml"):
        if not out.exists():
            return out
        if out.resolve() != urdf.resolve() and out.read_text(errors="replace").startswith(_MARK):
            return out
    raise SpecError(
        f"{urdf.name}: the converted MJCF would overwrite {urdf.stem}.xml and {urdf.stem}.from_urdf.xml in "
        f"{out_dir}, which sim2real did not write: give --out in another folder"
    )


def model_format(path: Path) -> str:
    """``"urdf"`` or ``"mjcf"``: by suffix, and a ``.xml`` file whose root element is ``<robot>`` is a URDF.

    Raises:
        SpecError: a xacro file (to expand first), or a format MuJoCo does not read (SDF, USD, a mesh).
    """
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".xacro" else path.suffix.lower()
    if suffix.endswith(".xacro"):
        plain = path.name.removesuffix(".xacro").removesuffix(".urdf") + ".urdf"
        raise SpecError(
            f"{path.name} is a xacro file (a URDF with macros): expand it first (pip install xacro; "
            f"xacro {path.name} > {plain}, with its ROS packages findable) and give the .urdf"
        )
    if suffix == ".urdf":
        return "urdf"
    if suffix in (".xml", ".mjcf"):
        try:
            root = next(ET.iterparse(path, events=("start",)))[1].tag
        except (ET.ParseError, StopIteration) as exc:
            raise SpecError(f"{path.name}: not valid XML ({exc})") from None
        return "urdf" if root == "robot" else "mjcf"
    raise SpecError(
        f"{path.name}: sim2real reads MJCF (.xml) and URDF (.urdf) models, not {suffix or 'files without a suffix'}"
        + (" (convert an SDF or USD model to URDF or MJCF first)" if suffix in (".sdf", ".usd", ".usda", ".usdc") else "")
    )
