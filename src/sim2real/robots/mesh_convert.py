"""Vendor meshes MuJoCo cannot read (Collada ``.dae``, ASCII STL) rewritten as binary STL.

MuJoCo reads binary STL, OBJ and MSH.  Vendor URDFs (HyQ's, Romeo's, many ROS packages') give their
collision meshes as Collada files, and Blender exports ASCII STL.  :func:`convert_mesh` reads the
triangles of either and writes them as a binary STL file that the converted MJCF refers to instead; the
vendor's files are never touched.

A Collada file's triangles (``<triangles>``, ``<polylist>`` and ``<polygons>``, fanned from each
polygon's first vertex) are placed by its visual scene (each node's ``<matrix>``, ``<translate>``,
``<rotate>`` and ``<scale>`` in document order, nested nodes composed), scaled by its
``<unit meter>``, and turned to Z up when ``<up_axis>`` says Y or X is up (the Collada standard's
meaning of that element).  Lines, points and materials are ignored: a collision mesh is its triangles.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from sim2real.errors import SpecError

CONVERTIBLE = (".dae", ".stl")
"""Suffixes :func:`convert_mesh` reads (an ``.stl`` only when it is ASCII)."""

STL_MAX_FACES = 200_000
"""The most faces MuJoCo's STL reader accepts in one file."""

_UP = {
    "Z_UP": np.eye(3),
    "Y_UP": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),  # +y becomes +z
    "X_UP": np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]),  # +x up, -y right, +z in
}


def is_ascii_stl(path: Path) -> bool:
    """Whether ``path`` is an ASCII STL (starts with ``solid`` and is not the size of a binary one)."""
    with path.open("rb") as fh:
        head = fh.read(84)
    if not head.lstrip().lower().startswith(b"solid"):
        return False
    # a binary STL whose 80-byte header happens to start with "solid" has the size its count gives
    return not (len(head) == 84 and path.stat().st_size == 84 + 50 * struct.unpack("<I", head[80:84])[0])


def needs_conversion(path: Path) -> bool:
    """Whether MuJoCo cannot read ``path`` but :func:`convert_mesh` can (a ``.dae``, an ASCII ``.stl``)."""
    suffix = path.suffix.lower()
    return suffix == ".dae" or (suffix == ".stl" and is_ascii_stl(path))


def read_ascii_stl(path: Path) -> np.ndarray:
    """The triangles of an ASCII STL file.

    Returns:
        Shape (n_triangles, 3, 3): vertices [file units] of each triangle.

    Raises:
        SpecError: no ``vertex`` lines, or a count not a multiple of three.
    """
    text = path.read_text(errors="replace")
    number = r"([-+0-9.eE]+)"
    vertices = re.findall(rf"vertex\s+{number}\s+{number}\s+{number}", text)
    if not vertices or len(vertices) % 3:
        raise SpecError(f"{path.name}: not a readable ASCII STL ({len(vertices)} vertices)")
    return np.asarray(vertices, dtype=float).reshape(-1, 3, 3)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _floats(text: str | None) -> np.ndarray:
    return np.asarray((text or "").split(), dtype=float)


def _node_matrix(node: ET.Element) -> np.ndarray:
    """A Collada node's 4x4 transform, its transform elements composed in document order."""
    out = np.eye(4)
    for child in node:
        kind, values = _local(child.tag), _floats(child.text)
        step = np.eye(4)
        if kind == "matrix" and values.size == 16:
            step = values.reshape(4, 4)
        elif kind == "translate" and values.size == 3:
            step[:3, 3] = values
        elif kind == "scale" and values.size == 3:
            step[:3, :3] = np.diag(values)
        elif kind == "rotate" and values.size == 4:
            axis, angle = values[:3], math.radians(values[3])
            norm = np.linalg.norm(axis)
            if norm > 0:
                x, y, z = axis / norm
                k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
                step[:3, :3] = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
        else:
            continue
        out = out @ step
    return out


def _geometry_triangles(geometry: ET.Element, path: Path) -> np.ndarray:
    """Triangles (n, 3, 3) of one ``<geometry>``'s mesh in its own frame."""
    mesh = next((c for c in geometry if _local(c.tag) == "mesh"), None)
    if mesh is None:
        return np.zeros((0, 3, 3))
    sources = {}
    for source in mesh:
        if _local(source.tag) != "source":
            continue
        array = next((c for c in source if _local(c.tag) == "float_array"), None)
        accessor = next((e for e in source.iter() if _local(e.tag) == "accessor"), None)
        stride = int(accessor.get("stride", "3")) if accessor is not None else 3
        if array is not None and stride >= 3:
            values = _floats(array.text)
            sources[source.get("id")] = values[: values.size // stride * stride].reshape(-1, stride)[:, :3]
    vertices = {}
    for element in mesh:
        if _local(element.tag) == "vertices":
            for put in element:
                if _local(put.tag) == "input" and put.get("semantic") == "POSITION":
                    vertices[element.get("id")] = sources.get(put.get("source", "").lstrip("#"))
    out = []
    for prim in mesh:
        kind = _local(prim.tag)
        if kind not in ("triangles", "polylist", "polygons"):
            continue
        inputs = [c for c in prim if _local(c.tag) == "input"]
        stride = 1 + max((int(c.get("offset", "0")) for c in inputs), default=0)
        position, offset = None, 0
        for put in inputs:
            ref = put.get("source", "").lstrip("#")
            if put.get("semantic") == "VERTEX":
                position, offset = vertices.get(ref), int(put.get("offset", "0"))
            elif put.get("semantic") == "POSITION" and position is None:
                position, offset = sources.get(ref), int(put.get("offset", "0"))
        if position is None:
            raise SpecError(
                f"{path.name}: a <{kind}> of geometry '{geometry.get('id')}' has no vertex positions"
            )
        lists = [c for c in prim if _local(c.tag) == "p"]
        index = (
            np.concatenate([_floats(p.text).astype(np.int64) for p in lists])
            if lists
            else np.zeros(0, np.int64)
        )
        corners = index[offset::stride]
        if kind == "triangles":
            counts = np.full(corners.size // 3, 3)
        elif kind == "polylist":
            vcount = next((c for c in prim if _local(c.tag) == "vcount"), None)
            counts = _floats(vcount.text if vcount is not None else "").astype(np.int64)
        else:  # <polygons>: one <p> per polygon
            counts = np.array([_floats(p.text).size // stride for p in lists], dtype=np.int64)
        if counts.sum() > corners.size or (corners.size and corners.max() >= len(position)):
            raise SpecError(f"{path.name}: geometry '{geometry.get('id')}' indexes past its vertices")
        start = 0
        for n in counts:  # a fan from each polygon's first corner
            poly = corners[start : start + n]
            start += n
            for i in range(1, n - 1):
                out.append(position[[poly[0], poly[i], poly[i + 1]]])
    return np.asarray(out, dtype=float).reshape(-1, 3, 3)


def read_collada(path: Path) -> np.ndarray:
    """The triangles of a Collada file, placed by its visual scene, in metres, Z up.

    Returns:
        Shape (n_triangles, 3, 3): vertices [m] of each triangle.

    Raises:
        SpecError: not a Collada file, or no triangles.
    """
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SpecError(f"{path.name}: not a readable Collada file ({exc})") from None
    if _local(root.tag) != "COLLADA":
        raise SpecError(f"{path.name}: not a Collada file (root <{_local(root.tag)}>)")
    geometries = {g.get("id"): g for g in root.iter() if _local(g.tag) == "geometry"}
    cache: dict[str, np.ndarray] = {}

    def triangles(ref: str) -> np.ndarray:
        if ref not in cache:
            cache[ref] = (
                _geometry_triangles(geometries[ref], path) if ref in geometries else np.zeros((0, 3, 3))
            )
        return cache[ref]

    placed: list[np.ndarray] = []

    def visit(node: ET.Element, parent: np.ndarray) -> None:
        pose = parent @ _node_matrix(node)
        for child in node:
            kind = _local(child.tag)
            if kind == "instance_geometry":
                tri = triangles(child.get("url", "").lstrip("#"))
                placed.append(tri @ pose[:3, :3].T + pose[:3, 3])
            elif kind == "node":
                visit(child, pose)

    scenes = [s for s in root.iter() if _local(s.tag) == "visual_scene"]
    chosen = next((e for e in root.iter() if _local(e.tag) == "instance_visual_scene"), None)
    scene = next(
        (s for s in scenes if chosen is not None and s.get("id") == chosen.get("url", "").lstrip("#")), None
    )
    scene = scene if scene is not None else (scenes[0] if scenes else None)
    if scene is not None:
        for node in scene:
            if _local(node.tag) == "node":
                visit(node, np.eye(4))
    else:  # no scene: every geometry where it is
        placed = [triangles(ref) for ref in geometries]
    tris = np.concatenate(placed) if placed else np.zeros((0, 3, 3))
    if not len(tris):
        raise SpecError(f"{path.name}: a Collada file without triangles")
    unit = next((e for e in root.iter() if _local(e.tag) == "unit"), None)
    up = next((e for e in root.iter() if _local(e.tag) == "up_axis"), None)
    scale = float(unit.get("meter", "1")) if unit is not None else 1.0
    turn = _UP.get((up.text or "").strip().upper() if up is not None else "Z_UP", np.eye(3))
    return scale * tris @ turn.T


def write_binary_stl(path: Path, triangles: np.ndarray) -> None:
    """Write triangles (n, 3, 3) [m] as a binary STL (normals left zero: MuJoCo computes its own)."""
    records = np.zeros(len(triangles), dtype=[("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    records["v"] = triangles
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(b"binary STL written by sim2real".ljust(80, b" ") + struct.pack("<I", len(triangles)))
        fh.write(records.tobytes())


def convert_mesh(source: Path, out_dir: Path) -> Path:
    """Rewrite ``source`` (a ``.dae`` or an ASCII ``.stl``) as a binary STL in ``out_dir``.

    The file is named after the source's stem and a digest of its bytes (two vendor files of one name
    in different folders stay apart; the same file is converted once).

    Returns:
        The binary STL written (or already there from an earlier run).

    Raises:
        SpecError: the source cannot be read, or has more faces than MuJoCo's STL reader takes.
    """
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:10]
    out = out_dir / f"{source.stem}-{digest}.stl"
    if out.is_file():
        return out
    tris = read_collada(source) if source.suffix.lower() == ".dae" else read_ascii_stl(source)
    if len(tris) > STL_MAX_FACES:
        raise SpecError(
            f"{source.name}: {len(tris)} triangles, more than MuJoCo's {STL_MAX_FACES} per mesh: simplify it "
            "(e.g. Blender's Decimate) and point the URDF at the result"
        )
    write_binary_stl(out, tris)
    return out
