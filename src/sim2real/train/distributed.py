"""Data-parallel PPO across processes: torch.distributed with the gloo backend, on CPU.

Each of ``WORLD_SIZE`` processes (rank ``RANK``) owns a batched simulator of ``num_envs /
WORLD_SIZE`` simulations seeded :func:`rank_seed`, collects its own rollouts and computes
gradients on them; rsl_rl's PPO then averages the gradients (and the KL of the adaptive
learning rate) over the processes, so every rank applies the same update and the networks stay
identical.  The advantages are normalized by the moments of all ranks' rollouts
(:class:`~sim2real.train.ppo.GlooPPO`), so the update is the one a single process computes on
the same samples.  The observation normalizers are merged: each environment step folds the
moments of all ranks' observations (:func:`merge_moments`; rsl_rl's own normalizer, in the
critic, does the same).  Only rank 0 writes the checkpoint, TensorBoard logs and the command's output.

rsl_rl's multi-GPU path reads ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` like torchrun sets them,
but insists on the device ``cuda:LOCAL_RANK`` and the NCCL backend; :class:`GlooOnPolicyRunner`
replaces only that set-up (gloo, CPU) and keeps the rest of rsl_rl's path (parameter broadcast,
gradient all-reduce, KL all-reduce, learning-rate broadcast).

Launch: ``sim2real train --nproc N`` starts N processes on this machine (:func:`launch`, loopback
rendezvous); on several machines torchrun starts them (``docs/scale.md``)::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HEAD:29500 \\
        -m sim2real.cli train --robot furuta --out RUN
"""

from __future__ import annotations

import datetime
import logging
import math
import multiprocessing as mp
import multiprocessing.connection
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sim2real.errors import MissingExtraError, Sim2RealError

try:
    import torch
    import torch.distributed as dist
    from rsl_rl.algorithms import PPO
    from rsl_rl.runners import OnPolicyRunner
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

__all__ = [
    "GlooOnPolicyRunner",
    "from_main",
    "is_main",
    "join_world",
    "launch",
    "local_envs",
    "merge_moments",
    "normalize_advantages",
    "rank_seed",
    "rank_threads",
    "seed_rank",
    "window_mean",
    "world",
]

log = logging.getLogger(__name__)

TIMEOUT = datetime.timedelta(minutes=30)
"""How long a collective waits for a missing process before the run fails."""
SEED_STRIDE = 7919
"""Rank r's environment, randomization and sampling seed is seed + r * SEED_STRIDE."""


def world() -> tuple[int, int]:
    """(rank, world size) of this process: the process group's, else ``RANK``/``WORLD_SIZE``
    from the environment (torchrun's variables), else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    """Whether this process writes outputs (rank 0)."""
    return world()[0] == 0


def rank_seed(seed: int) -> int:
    """This rank's seed (rank 0: ``seed`` itself, so one process is the plain run)."""
    return int(seed) + SEED_STRIDE * world()[0]


def seed_rank(seed: int) -> None:
    """Seed torch's generator with :func:`rank_seed` in a multi-process run (exploration noise
    then differs between ranks); nothing in a single process."""
    if world()[1] > 1:
        torch.manual_seed(rank_seed(seed))


def rank_threads(nthread: int) -> int:
    """MuJoCo threads of this process: ``nthread``, or for 0 ("every CPU") this machine's CPUs
    shared by the ranks on it (``LOCAL_WORLD_SIZE``), so that the ranks do not oversubscribe."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if nthread or local <= 1:
        return nthread
    return max(1, (os.cpu_count() or 1) // local)


def local_envs(total: int) -> int:
    """Simulations this process steps: ``total`` shared evenly by the ranks.

    Raises:
        Sim2RealError: ``total`` does not divide evenly.
    """
    size = world()[1]
    if total % size:
        raise Sim2RealError(f"{total} environments do not divide over {size} processes; choose --envs")
    return total // size


def join_world() -> int:
    """Join the process group of a multi-process run (from ``WORLD_SIZE`` etc.) and return the
    world size; 1 without one.  Ranks other than 0 send their stdout and stderr to the null
    device (one progress bar, one summary); their log records at WARNING and above still reach
    the terminal."""
    rank, size = world()
    if size <= 1:
        return 1
    if not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise Sim2RealError(
                    f"WORLD_SIZE={size} but {name} is not set: launch with --nproc or torchrun"
                )
        dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=size, timeout=TIMEOUT)
        log.info("rank %d of %d joined (gloo, %s)", rank, size, os.environ["MASTER_ADDR"])
    if rank != 0 and getattr(sys.stdout, "name", "") != os.devnull:
        logging.getLogger().setLevel(logging.WARNING)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of this worker process
        sys.stderr = sys.stdout
    return size


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


def normalize_advantages(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Advantages standardized by the mean and standard deviation of every rank's rollout: what
    one process would compute on all the samples, ``(A - mean) / (std + eps)`` with the unbiased
    std (PPO's own normalization; identity of rsl_rl's in a single process).

    A collective in a multi-process run (two all-reduces of a few numbers).

    Args:
        advantages: This rank's advantages, any shape (e.g. (steps, envs, 1)).
        eps: Added to the standard deviation.
    """
    a = advantages.to(torch.float64)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return (advantages - advantages.mean()) / (advantages.std() + eps)
    first = torch.stack([torch.tensor(float(a.numel()), dtype=torch.float64), a.sum()])
    dist.all_reduce(first, op=dist.ReduceOp.SUM)
    n, mean = float(first[0]), first[1] / first[0]
    squares = ((a - mean) ** 2).sum()
    dist.all_reduce(squares, op=dist.ReduceOp.SUM)
    std = torch.sqrt(squares / max(n - 1.0, 1.0))
    return ((a - mean) / (std + eps)).to(advantages.dtype)


def from_main(value: float | bool | None) -> float | bool | None:
    """Rank 0's ``value`` on every rank: what rank 0 alone computed (an evaluation) or decided (to
    stop at the success gate, which every rank must follow at the same iteration: a rank that went
    on alone would wait forever in the next gradient all-reduce).  The value itself in a single
    process; a bool comes back a bool, None stays None.  A collective in a multi-process run:
    every rank calls it at the same point."""
    if world()[1] <= 1 or not dist.is_initialized():
        return value
    t = torch.tensor([math.nan if value is None else float(value)], dtype=torch.float64)
    dist.broadcast(t, src=0)
    out = None if math.isnan(float(t[0])) else float(t[0])
    return bool(out) if isinstance(value, bool) else out


def window_mean(values: Sequence[float]) -> float | None:
    """Mean of a window of per-episode figures over all ranks (None when no rank has one).

    A collective in a multi-process run: every rank calls it at the same point."""
    local = (float(sum(values)), float(len(values)))
    if world()[1] > 1 and dist.is_initialized():
        t = torch.tensor(local, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        local = (float(t[0]), float(t[1]))
    return local[0] / local[1] if local[1] else None


#: The PPO classes a multi-process run accepts (it runs them as ``sim2real.train.ppo:GlooPPO``).
_PPO_NAMES = ("PPO", "rsl_rl.algorithms:PPO", PPO, "sim2real.train.ppo:StepNormalizedPPO")


class GlooOnPolicyRunner(OnPolicyRunner):
    """rsl_rl's ``OnPolicyRunner`` with its multi-process set-up on gloo and CPU.

    rsl_rl's PPO does the rest (as :class:`~sim2real.train.ppo.GlooPPO`, whose advantages are normalized over every
    rank's rollout): gradients averaged with all-reduce after each backward pass, the KL of the
    adaptive schedule averaged, the learning rate broadcast from rank 0.  The
    parameters are broadcast from rank 0 once, before the first iteration (rsl_rl does it at
    every ``learn`` call, which :class:`~sim2real.train.runner.Trainer` makes once per iteration).
    """

    def _configure_multi_gpu(self) -> None:
        rank, size = world()
        self.gpu_world_size = size
        self.gpu_global_rank = rank
        self.gpu_local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.is_distributed = size > 1
        self._synchronized = False
        if not self.is_distributed:
            self.cfg["multi_gpu"] = None
            return
        if self.device != "cpu":
            raise Sim2RealError(f"multi-process training runs on the CPU with gloo, not on {self.device}")
        join_world()
        algorithm = self.cfg["algorithm"]
        if algorithm["class_name"] not in _PPO_NAMES or algorithm.get("normalize_advantage_per_mini_batch"):
            raise Sim2RealError(
                "multi-process training runs rsl_rl's PPO with advantages normalized per rollout"
            )
        # the advantages normalized over every rank's rollout (named: ppo.py imports this module)
        algorithm["class_name"] = "sim2real.train.ppo:GlooPPO"
        self.cfg["multi_gpu"] = {
            "global_rank": rank,
            "local_rank": self.gpu_local_rank,
            "world_size": size,
        }

    def learn(self, num_learning_iterations: int, init_at_random_ep_len: bool = False) -> None:
        """rsl_rl's loop; the parameter broadcast happens on the first call only."""
        distributed = self.is_distributed
        if distributed and not self._synchronized:
            self.alg.broadcast_parameters()
            self._synchronized = True
        self.is_distributed = False
        try:
            super().learn(num_learning_iterations, init_at_random_ep_len)
        finally:
            self.is_distributed = distributed


# ----------------------------------------------------------------------------------- launcher
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank_main(
    target: Callable[..., Any], kwargs: dict[str, Any], rank: int, size: int, port: int, errors: Any
) -> None:
    """One process of :func:`launch`: torchrun's environment on loopback, then ``target(**kwargs)``."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(size),
        LOCAL_WORLD_SIZE=str(size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one machine: gloo's pairs on loopback too
    logging.basicConfig(level=logging.INFO, format=f"%(levelname)s rank{rank} %(name)s: %(message)s")
    code = 1
    try:
        code = int(target(**kwargs) or 0)
    except Sim2RealError as exc:
        errors.put((rank, str(exc)))
    except KeyboardInterrupt:
        code = 130
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    sys.exit(code)


def launch(target: Callable[..., Any], nproc: int, kwargs: dict[str, Any]) -> int:
    """Run ``target(**kwargs)`` in ``nproc`` processes forming one gloo process group on this
    machine (ranks 0..nproc-1, rendezvous on a free loopback port) and wait for them.

    Returns:
        Rank 0's exit code (0 when every rank succeeded).

    Raises:
        Sim2RealError: a rank failed (its error message; the other ranks are stopped).
    """
    if nproc < 1:
        raise Sim2RealError(f"--nproc must be at least 1, got {nproc}")
    ctx = mp.get_context("spawn")
    errors = ctx.SimpleQueue()
    port = _free_port()
    procs = [
        ctx.Process(
            target=_rank_main, args=(target, kwargs, rank, nproc, port, errors), name=f"sim2real-rank{rank}"
        )
        for rank in range(nproc)
    ]
    for p in procs:
        p.start()
    failed = None
    try:
        waiting = {p.sentinel: p for p in procs}
        while waiting:
            for sentinel in mp.connection.wait(list(waiting)):
                p = waiting.pop(sentinel)  # type: ignore[call-overload]
                p.join()
                if p.exitcode != 0 and failed is None:
                    failed = p
                    for other in waiting.values():  # the others would wait for it in a collective
                        other.terminate()
    except KeyboardInterrupt:
        for p in procs:  # the ranks got the interrupt too: let them save and stop
            p.join()
        raise
    if failed is not None:
        message = None
        while not errors.empty():
            rank, text = errors.get()
            if message is None or rank == 0:
                message = text
        if message is not None:
            raise Sim2RealError(message)
        if failed.exitcode == 130:
            raise KeyboardInterrupt
        raise Sim2RealError(f"training process {failed.name} exited with code {failed.exitcode}")
    return int(procs[0].exitcode or 0)
