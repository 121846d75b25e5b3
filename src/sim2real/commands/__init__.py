"""Subcommands of the ``sim2real`` CLI, one module each.

Command modules import only light modules at import time (heavy ones such as torch inside the
function), so that ``sim2real --help`` and the light commands start fast.
"""
