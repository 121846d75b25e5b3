"""Training checkpoints: one file ``RUN/policy.pt`` with everything needed to resume or export.

Format (a ``torch.save`` dict of plain Python values and tensors, loadable with
``torch.load(..., weights_only=True)``)::

    format               "sim2real-checkpoint/1"
    policy_state_dict    TransferPolicy.state_dict(): normalizer.mean/var/count, body.* (export this)
    actor_state_dict     rsl_rl actor (TransferActor): policy.* + distribution.log_std_param
    critic_state_dict    rsl_rl critic (MLPModel with its own observation normalizer)
    optimizer_state_dict Adam state of actor + critic
    learning_rate        current (KL-adapted) learning rate
    iteration            PPO iterations done
    env_steps            environment steps done
    torch_rng_state      torch CPU generator state (resume)
    metadata             see below (also returned by load_policy)

``metadata``::

    robot, robot_path, spec_hash, task        which robot (name, spec YAML) and task
    n_obs, n_act, hidden                      TransferPolicy(n_obs, n_act, hidden)
    n_critic_obs, critic_hidden
    joints, observation (name/size/scale), default_pose, control_dt
    action_scale, action_filter               command = scale * a (+ default pose for PD); a_f low-pass
    ppo                                       PPOConfig.to_dict()
    seed, randomization {randomize, curriculum, stage, summary[, config][, calibration]}
    calibration                               None, or the calibration the run trained on (train
                                              --calib): {path, spec_hash, created, widen, base,
                                              values} (values: name -> calibrated value)
    iteration, env_steps, train_seconds, evaluation (last evaluation, if any)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sim2real.errors import MissingExtraError, Sim2RealError, SpecMismatchError
from sim2real.robots.spec import RobotSpec
from sim2real.train.network import TransferPolicy

try:
    import torch
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

FORMAT = "sim2real-checkpoint/1"
"""Version tag of the checkpoint layout."""
CHECKPOINT_NAME = "policy.pt"
"""File name of the checkpoint inside a run directory."""


def checkpoint_path(run: str | Path) -> Path:
    """``RUN/policy.pt`` for a run directory; a ``.pt`` file path is returned as is."""
    path = Path(run)
    if path.suffix == ".pt":
        return path
    return path / CHECKPOINT_NAME


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write a checkpoint atomically (a crash mid-write leaves the previous one intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(run: str | Path) -> dict[str, Any]:
    """Read a checkpoint (run directory or file).

    Raises:
        Sim2RealError: no checkpoint there, or not one of ours.
    """
    given = Path(run)
    if given.suffix == ".onnx":
        raise Sim2RealError(
            f"{given} is an exported policy, not a training run: evaluate the run it was exported from "
            f"(RUN or RUN/policy.pt), or run the policy on the twin: sim2real deploy --policy {given} --twin T"
        )
    path = given if given.is_file() else checkpoint_path(run)  # a file of any name is the checkpoint
    if not path.is_file():
        hint = f"train one with: sim2real train --robot R --out {path.parent}"
        raise Sim2RealError(f"no checkpoint at {path} ({hint})")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise Sim2RealError(
            f"cannot read checkpoint {path}: the file is truncated, corrupt or not a PyTorch checkpoint "
            f"({type(exc).__name__}); train again or restore the file"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Sim2RealError(f"{path} is not a sim2real checkpoint (format {FORMAT})")
    return data


def check_spec(metadata: dict[str, Any], spec: RobotSpec) -> None:
    """Raise :class:`SpecMismatchError` when a checkpoint was trained for another version of a robot spec."""
    if metadata["spec_hash"] != spec.hash or metadata.get("robot", spec.name) != spec.name:
        raise SpecMismatchError(
            "the training run",
            spec.hash,
            metadata["spec_hash"],
            expected_robot=spec.name,
            found_robot=str(metadata.get("robot")),
        )


def run_model(spec: RobotSpec, metadata: dict[str, Any]) -> Any:
    """The MjModel a run trained on: the spec's nominal model with the run's calibration values set
    (``train --calib``), or None for a run on the nominal model."""
    calibration = metadata.get("calibration")
    if calibration is None:
        return None
    import numpy as np

    from sim2real.params import Parameters
    from sim2real.robots.model import build_model

    model = build_model(spec)
    Parameters(spec, model).set(model, {k: np.asarray(v, float) for k, v in calibration["values"].items()})
    return model


def load_policy(run: str | Path) -> tuple[TransferPolicy, dict[str, Any]]:
    """The trained policy of a run, ready for inference or export.

    Args:
        run: Run directory (containing ``policy.pt``) or the checkpoint file itself.

    Returns:
        ``(policy, metadata)``: a :class:`TransferPolicy` in eval mode whose observation
        normalizer is frozen (its ``mean``/``var`` buffers are the training statistics), and the
        checkpoint's metadata dict (see the module docstring: robot, spec_hash, task, n_obs,
        n_act, hidden, joints, observation, default_pose, control_dt, action_scale,
        action_filter, randomization, ...).
    """
    data = load_checkpoint(run)
    meta = dict(data["metadata"])
    policy = TransferPolicy(int(meta["n_obs"]), int(meta["n_act"]), tuple(meta["hidden"]))
    policy.load_state_dict(data["policy_state_dict"])
    policy.normalizer.frozen = True
    policy.eval()
    return policy, meta
