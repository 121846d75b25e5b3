"""Subcommands of the ``sim2real`` CLI, one module each.

Command modules import only light modules at import time (heavy ones such as torch inside the
function), so that ``sim2real --help`` and the light commands start fast.

================  ==================================================================================
module            owns
================  ==================================================================================
robots            ``sim2real robots`` and ``sim2real params``
robot             ``sim2real robot init`` and ``sim2real robot show``
twin              ``sim2real twin init`` (a commented twin file with every key)
randomize         ``sim2real randomize show``
train             ``sim2real train`` and ``sim2real evaluate``
sweep             ``sim2real sweep`` (a grid of training runs, here or on Ray Tune)
export            ``sim2real export``
record            ``sim2real record``
identify          ``sim2real identify``
actuator          ``sim2real actuator fit|eval`` (actuator networks learned from logs)
gap               ``sim2real gap``
deploy            ``sim2real deploy``
loop_run          a control loop run from a command (deploy, record): live status, the task's
                  outcome, Ctrl-C, the summary text
faults            ``sim2real faults`` (the fault-injection suite of the safety layer)
preflight         ``sim2real preflight`` (the pre-deployment checklist) and ``sim2real stages show``
                  (the ledger)
import_policy     ``sim2real import legged-gym|isaaclab`` (policies trained elsewhere)
sim2sim           ``sim2real sim2sim`` (a policy in MuJoCo through the deploy loop, and the gate)
ros2              ``sim2real twin-node`` and ``sim2real ros2 selftest``
finetune          ``sim2real finetune``
bench             ``sim2real bench``
demo              ``sim2real demo``
output            how commands speak: ``--json`` on stdout, human text on stderr
arguments         typed numbers of the command line (seeds, counts, durations): a value out of
                  range is a usage error
================  ==================================================================================
"""
