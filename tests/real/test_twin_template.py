"""`sim2real twin init`: a commented twin file with every key, and twin files checked at the door."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import yaml

from sim2real.cli import main
from sim2real.errors import Sim2RealError
from sim2real.params import Parameters
from sim2real.real.twin import TwinConfig, TwinEffects
from sim2real.real.twin_template import field_docs, twin_template
from sim2real.robots import load_robot
from sim2real.robots.model import build_model


class TestTemplate:
    def test_every_effect_is_written_with_its_default_and_its_documentation(self, furuta):
        text = twin_template(furuta)
        effects = yaml.safe_load(text)["effects"]
        defaults = TwinEffects()
        assert list(effects) == [f.name for f in dataclasses.fields(TwinEffects)]
        for name, value in effects.items():
            default = getattr(defaults, name)
            assert (tuple(value) if isinstance(default, tuple) else value) == default, name
        docs = field_docs(TwinEffects)
        assert docs["latency_jitter"].endswith("[s].") and docs["latency_jitter"] in text
        assert "  stop_delay: 0  " in text and "  flip_sign: []  " in text
        assert "--fixed-base" in text  # hanging by the base is an option of record, not a key

    def test_every_parameter_is_listed_with_unit_and_bounds_and_only_hidden_ones_are_set(self, furuta):
        params = Parameters(furuta, build_model(furuta))
        text = twin_template(furuta, {"body.pendulum.mass": np.array([0.0288])})
        for name in params.names:
            assert f"{name}: " in text, name
        assert (
            "  body.pendulum.mass: 0.0288" in text and "# kg; nominal 0.024, bounds [0.019 .. 0.029]" in text
        )
        assert "  # body.arm.mass: 0.095" in text
        assert yaml.safe_load(text)["params"] == {"body.pendulum.mass": 0.0288}

    def test_an_unknown_hidden_parameter_is_refused(self, furuta):
        with pytest.raises(Sim2RealError, match=r"no parameter 'body.nothing.mass'"):
            twin_template(furuta, {"body.nothing.mass": np.array([1.0])})

    def test_twin_init_writes_a_file_the_twin_loads(self, tmp_path, capsys):
        out = tmp_path / "twin.yaml"
        assert main(["twin", "init", "--robot", "furuta", "--out", str(out)]) == 0
        config = TwinConfig.load(out, load_robot("furuta"))
        assert config.params["body.pendulum.mass"][0] == pytest.approx(0.0288)
        assert config.effects == TwinEffects()
        nominal = tmp_path / "nominal.yaml"
        assert main(["twin", "init", "--robot", "furuta", "--out", str(nominal), "--nominal"]) == 0
        assert TwinConfig.load(nominal).params == {}
        capsys.readouterr()

    def test_twin_init_states_the_values_it_wrote(self, tmp_path, capsys):
        """The quadruped's hidden centre of mass is 1.2 x nominal: twin init printed
        -0.0064800000000000005 where its file (and so the twin) holds -0.00648."""
        out = tmp_path / "twin.yaml"
        assert main(["twin", "init", "--robot", "quadruped", "--out", str(out), "--json"]) == 0
        captured = capsys.readouterr()
        summary = json.loads(captured.out)
        written = TwinConfig.load(out, load_robot("quadruped")).params
        assert summary["params"] == {k: v.tolist() for k, v in written.items()}
        assert summary["params"]["body.base.com"][2] == -0.00648
        assert "-0.00648]" in captured.err and "00000" not in captured.err


class TestTwinFileChecks:
    def _write(self, tmp_path, text: str):
        path = tmp_path / "twin.yaml"
        path.write_text(text)
        return path

    def test_values_outside_the_plausible_bounds_are_refused_unless_allowed(self, tmp_path, furuta):
        path = self._write(tmp_path, "params:\n  body.pendulum.mass: 10.0\n")
        with pytest.raises(
            Sim2RealError, match=r"twin.yaml: body.pendulum.mass value 10 kg .*--allow-out-of-bounds"
        ):
            TwinConfig.load(path, furuta)
        config = TwinConfig.load(path, furuta, allow_out_of_bounds=True)
        assert config.params["body.pendulum.mass"][0] == 10.0
        assert TwinConfig.load(path).params["body.pendulum.mass"][0] == 10.0  # no robot: no bounds to check

    @pytest.mark.parametrize(
        ("effects", "match"),
        [
            ("integrator: RK5", "must be one of"),
            ("substep_factor: 0", "whole number >= 1"),
            ("substep_factor: 2.5", "whole number"),
            ("drop_probability: 1.5", "below 1"),
            ("velocity_noise: -1", ">= 0"),
            ("backlash: lots", ">= 0"),
            ("gyro_nosie: 0.1", "unknown effect"),
            ("stop_delay: -0.1", ">= 0"),
            ("flip_sign: arm", "list of joint names"),
            ("flip_sign: [1, 2]", "list of joint names"),
        ],
    )
    def test_bad_effects_are_refused_naming_the_file_and_key(self, tmp_path, effects, match):
        path = self._write(tmp_path, f"effects:\n  {effects}\n")
        with pytest.raises(Sim2RealError, match=match) as info:
            TwinConfig.load(path)
        assert str(path) in str(info.value)

    def test_a_parameter_of_another_robot_is_refused_naming_the_file(self, tmp_path, furuta):
        path = self._write(tmp_path, "params:\n  body.pole.mass: 0.6\n")
        with pytest.raises(Sim2RealError, match=r"twin.yaml: 'body.pole.mass' matches no parameter of furuta"):
            TwinConfig.load(path, furuta)

    def test_flip_sign_names_actuated_joints_of_the_robot(self, tmp_path, furuta):
        path = self._write(tmp_path, "effects:\n  flip_sign: [arm, elbow]\n")
        with pytest.raises(Sim2RealError, match=r"twin.yaml: effects.flip_sign: elbow are not actuated joints"):
            TwinConfig.load(path, furuta)
        path = self._write(tmp_path, "effects:\n  flip_sign: [arm]\n  stop_delay: 0.05\n")
        effects = TwinConfig.load(path, furuta).effects
        assert effects.flip_sign == ("arm",) and effects.stop_delay == 0.05
