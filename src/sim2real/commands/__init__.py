"""Subcommands of the ``sim2real`` CLI, one module each.

Command modules import only light modules at import time (heavy ones such as torch inside the
function), so that ``sim2real --help`` and the light commands start fast.

================  ==================================================================================
module            owns
================  ==================================================================================
robots            ``sim2real robots`` and ``sim2real params``
randomize         ``sim2real randomize show``
train             ``sim2real train`` and ``sim2real evaluate``
export            ``sim2real export``
record            ``sim2real record``
identify          ``sim2real identify``
gap               ``sim2real gap``
deploy            ``sim2real deploy`` and ``sim2real faults``
import_policy     ``sim2real import legged-gym|isaaclab`` (policies trained elsewhere)
sim2sim           ``sim2real sim2sim`` (a policy in MuJoCo through the deploy loop, and the gate)
ros2              ``sim2real twin-node`` and ``sim2real ros2 selftest``
finetune          ``sim2real finetune``
bench             ``sim2real bench``
demo              ``sim2real demo``
output            how commands speak: ``--json`` on stdout, human text on stderr
================  ==================================================================================
"""
