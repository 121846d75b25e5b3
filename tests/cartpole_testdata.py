"""A cart on a rail (slide joint, metres) and a hanging pole (hinge, radians), both driven by motors:
the robot with a slide joint that tests of units make with ``robot init``."""

from __future__ import annotations

from pathlib import Path

CARTPOLE = """<mujoco model="cp"><compiler angle="radian"/><worldbody>
  <body name="cart" pos="0 0 1"><joint name="slider" type="slide" axis="1 0 0" range="-1 1"/>
    <geom type="box" size="0.1 0.05 0.05" mass="1"/>
    <body name="pole"><joint name="hinge" axis="0 1 0" range="-3 3"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.02" mass="0.2"/></body></body>
</worldbody><actuator><motor name="slider" joint="slider" ctrlrange="-10 10"/>
<motor name="hinge" joint="hinge" ctrlrange="-1 1"/></actuator></mujoco>"""


def cartpole_spec(folder: Path):
    """The cart-pole's spec as ``robot init`` writes it into ``folder``, loaded."""
    from sim2real.robots.init import InitOptions, infer_spec
    from sim2real.robots.init_write import write_spec
    from sim2real.robots.load import load_spec

    (folder / "cp.xml").write_text(CARTPOLE)
    write_spec(infer_spec(folder / "cp.xml", folder, InitOptions()), folder / "robot.yaml")
    return load_spec(folder / "robot.yaml")
