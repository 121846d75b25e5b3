"""sim2real: from MuJoCo simulation to a real robot, and back."""

__version__ = "0.1.0"
