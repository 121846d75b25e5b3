"""The moments of every rank's batch merged: what one process would compute on all the samples
(the observation normalizer folds them at each environment step).  Torch alone: exporting or
loading a policy network imports this, not rsl_rl (whose import takes several seconds)."""

from __future__ import annotations

from sim2real.errors import MissingExtraError

try:
    import torch
    import torch.distributed as dist
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

__all__ = ["merge_moments"]


def merge_moments(
    count: float, mean: torch.Tensor, var: torch.Tensor
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Moments of the union of every rank's batch (identity in a single process).

    Args:
        count: Samples in this rank's batch.
        mean: Their mean, shape (size,).
        var: Their (biased) variance, shape (size,).

    Returns:
        (total count, mean, variance) over all ranks' samples.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return count, mean, var
    m = mean.to(torch.float64)
    packed = torch.cat(
        [torch.tensor([count], dtype=torch.float64), count * m, count * (var.to(torch.float64) + m**2)]
    )
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    n = float(packed[0])
    size = mean.numel()
    g_mean = packed[1 : 1 + size] / n
    g_var = (packed[1 + size :] / n - g_mean**2).clamp_min(0.0)
    return n, g_mean.to(mean.dtype), g_var.to(var.dtype)
