"""Collada and ASCII STL meshes read as triangles and written as binary STL."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from sim2real.errors import SpecError
from sim2real.robots.mesh_convert import convert_mesh, is_ascii_stl, needs_conversion, read_collada
from urdf_testdata import ascii_stl_box, collada_box, stl


def _bounds(tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = tris.reshape(-1, 3)
    return points.min(axis=0), points.max(axis=0)


class TestCollada:
    def test_quads_are_fanned_into_triangles_placed_by_the_node_in_metres(self, tmp_path):
        tris = read_collada(collada_box(tmp_path / "b.dae", (2, 4, 6), offset=(10, 0, 0), unit=0.1))
        assert tris.shape == (12, 3, 3)
        low, high = _bounds(tris)
        np.testing.assert_allclose(low, [0.9, -0.2, -0.3])
        np.testing.assert_allclose(high, [1.1, 0.2, 0.3])

    def test_a_y_up_file_is_turned_to_z_up(self, tmp_path):
        low, high = _bounds(
            read_collada(collada_box(tmp_path / "b.dae", (2, 4, 6), offset=(0, 5, 0), up="Y_UP"))
        )
        np.testing.assert_allclose(low, [-1, -3, 3])  # the file's +y (up) is +z; its +z becomes -y
        np.testing.assert_allclose(high, [1, 3, 7])

    def test_an_x_up_file_is_turned_to_z_up_as_the_collada_standard_says(self, tmp_path):
        """X_UP: the file's +x is up, its -y is right (+x), its +z is in (-y); the turn was 90 degrees off
        about the vertical (a 2 x 4 x 6 box came out 6 x 4 x 2)."""
        low, high = _bounds(
            read_collada(collada_box(tmp_path / "b.dae", (2, 4, 6), offset=(0, 5, 0), up="X_UP"))
        )
        np.testing.assert_allclose(low, [-7, -3, -1])
        np.testing.assert_allclose(high, [-3, 3, 1])

    def test_a_polygon_indexing_past_its_vertices_is_one_line(self, tmp_path):
        path = collada_box(tmp_path / "b.dae", (1, 1, 1))
        path.write_text(path.read_text().replace("<p>0 0 ", "<p>9 0 "))
        with pytest.raises(SpecError, match=r"b\.dae: geometry 'box-mesh' indexes past its vertices"):
            read_collada(path)


class TestStl:
    def test_ascii_and_binary_stl_are_told_apart_by_size_not_by_the_word_solid(self, tmp_path):
        ascii_path = ascii_stl_box(tmp_path / "a.stl", (1, 1, 1))
        binary = stl(tmp_path / "b.stl")
        named = tmp_path / "c.stl"
        named.write_bytes(b"solid made by a CAD tool".ljust(80) + binary.read_bytes()[80:])
        assert [is_ascii_stl(p) for p in (ascii_path, binary, named)] == [True, False, False]
        assert [needs_conversion(p) for p in (ascii_path, named, tmp_path / "x.dae")] == [True, False, True]

    def test_a_converted_file_is_binary_stl_named_by_the_sources_digest(self, tmp_path):
        source = ascii_stl_box(tmp_path / "in" / "box.stl", (0.1, 0.2, 0.3))
        out = convert_mesh(source, tmp_path / "out")
        assert out.name.startswith("box-") and not is_ascii_stl(out)
        raw = out.read_bytes()
        (count,) = struct.unpack("<I", raw[80:84])
        assert count == 12 and len(raw) == 84 + 50 * count
        vertices = np.frombuffer(raw[84:], dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])["v"]
        np.testing.assert_allclose(vertices.reshape(-1, 3).max(axis=0), [0.05, 0.1, 0.15], rtol=1e-6)
        assert convert_mesh(source, tmp_path / "out") == out  # once
