"""Fit actuator networks to logs with measured torque (torch), export them to ONNX.

``sim2real actuator fit``: each *group* of joints that share a drive (by default: same drive
model and torque limit; or ``--group REGEX``) gets one network, trained on every joint's samples
(:mod:`sim2real.sysid.actuator_data`), with the last ``validation`` share of every log (in time)
held out for early stopping and for the figures, which compare the network with the identified
drive model and the ridge motor model on the same held-out samples.

**The network** (per group), on Hwangbo et al.'s inputs (position error or command, and
velocity, at the ``history`` newest samples ``dt`` apart)::

    tau = a u_(t - l) + b v_t + c  +  C tanh(f(x) / C)

a linear drive (least squares: a PD for a position drive, ``kt/R (V - ke v)`` for a voltage drive,
on the newest velocity and on the one past sample of the error or command that explains the
torque best: a drive whose latency exceeds the sample period acts on an older command) plus a
learned correction ``f``: an MLP (3 x 32 softsign, Hwangbo's
size) over the normalized history, or a GRU (16 units) stepping once per sample on the same
history window, whose state and input feed a 32-unit head.  The correction is
bounded by ``C`` = ``bound`` x the largest training residual of the linear drive (0.1 % quantile),
and each past sample's inputs enter the MLP under a group-lasso penalty (``sparsity``), so that
history is used where it improves the fit (a drive's lag, a series spring) and ignored where it
only lets the network interpolate the excitation.
Why: on the hung Go2-class twin, a plain MLP fitted on 60 s of chirp predicted a PRBS recording
(targets stepping, velocities near zero while the error is large: input combinations a chirp
never makes) 10-20x worse than the PD model, and a linear model of all history samples 4x worse
(it learned to extrapolate the smooth chirp from past samples); the bounded correction without
the penalty was 0.42x the PD model, with it 0.28x (the twin's drive has no lag past one control
period: its history carries nothing).  The linear drive keeps the
physics' extrapolation, and the bounded correction learns what it cannot do (backlash, saturation,
friction seen by the drive, lag) without running away outside the data.

Training: Adam, mini-batches, cosine learning rate, early stop on the validation loss (the best
epoch's weights are kept).  Seeded.  Export: one ONNX graph for all groups, metadata per
:class:`~sim2real.sim.net_actuator.NetMetadata`, checked against the torch model in onnxruntime.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sim2real.errors import MissingExtraError, Sim2RealError
from sim2real.logs.trajectory import Trajectory
from sim2real.policy.export import onnx_graph  # one exporter for every graph sim2real writes
from sim2real.robots.model import build_model
from sim2real.robots.spec import RobotSpec
from sim2real.sim.net_actuator import DRIVE_INPUTS, ActuatorNet, NetMetadata
from sim2real.sysid.actuator_data import (
    DriveModel,
    TorqueSamples,
    drive_model,
    drive_torque,
    fit_ridge,
    joints_with_efforts,
    ridge_torque,
    rmse,
    sample_dt,
    torque_samples,
)

try:
    import torch
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("train", exc.name or "torch") from None

log = logging.getLogger(__name__)

__all__ = ["NetFitConfig", "NetFitResult", "default_groups", "fit_actuator_net", "regex_groups"]

Kind = Literal["mlp", "gru"]


@dataclass(frozen=True)
class NetFitConfig:
    """How :func:`fit_actuator_net` fits."""

    kind: Kind = "mlp"
    """``mlp`` (history window, Hwangbo) or ``gru`` (recurrent state over the history window)."""
    history: int = 3
    """Samples of each input the network sees at once (newest first)."""
    dt: float | None = None
    """Spacing of the history samples and the GRU's step [s]; default the logs' sample period."""
    hidden: int = 32
    """Units per hidden layer (MLP: 3 layers; GRU: its state is half of it)."""
    bound: float = 2.0
    """Bound of the learned correction, in units of the linear drive's largest training residual."""
    sparsity: float = 0.01
    """Group-lasso weight on each past sample's input weights (MLP): history is used where it pays."""
    validation: float = 0.2
    """Share of every log, at its end, held out for early stopping and the figures."""
    epochs: int = 200
    """Most passes over the training samples."""
    patience: int = 25
    """Stop after this many epochs without a better validation loss."""
    batch: int = 512
    """Samples per step (MLP) or joint sequences per step (GRU)."""
    lr: float = 3e-3
    """Adam's learning rate (cosine decay over ``epochs``)."""
    sequence: int = 64
    """GRU: samples per training sequence."""
    seed: int = 0
    """Seed of the initialization and the batches."""
    torque_constant: float | None = None
    """The logs' effort column is motor current [A]; the torque is this x current [N m/A]."""

    def __post_init__(self) -> None:
        if not 0.0 < self.validation < 1.0:  # none held out (or none left to fit): nothing to stop on
            raise Sim2RealError(f"--validation is the held-out share of each log, in (0, 1); got {self.validation}")
        for name in ("history", "hidden", "epochs", "patience", "batch", "sequence"):
            if getattr(self, name) < 1:
                raise Sim2RealError(f"NetFitConfig.{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class NetFitResult:
    """A fitted network and its figures on the held-out samples."""

    path: Path
    """The ONNX file written."""
    meta: NetMetadata
    """Its metadata."""
    net_torque_rmse: dict[str, float]
    """Network torque RMSE per joint and ``overall`` [N m] (validation samples)."""
    pd_torque_rmse: dict[str, float]
    """The drive model's (PD, or DC motor) torque RMSE, same samples [N m]."""
    ridge_torque_rmse: dict[str, float]
    """The ridge motor model's torque RMSE, same samples [N m]."""
    epochs: dict[str, int] = field(default_factory=dict)
    """Epochs trained per group (the best one's weights kept)."""
    samples: dict[str, int] = field(default_factory=dict)
    """Training and validation samples (per joint)."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "out": str(self.path),
            "kind": self.meta.kind,
            "groups": {k: list(v) for k, v in self.meta.groups.items()},
            "history": self.meta.history,
            "dt": self.meta.dt,
            "net_torque_rmse": self.net_torque_rmse,
            "pd_torque_rmse": self.pd_torque_rmse,
            "ridge_torque_rmse": self.ridge_torque_rmse,
            "ratio_to_pd": self.net_torque_rmse["overall"] / max(self.pd_torque_rmse["overall"], 1e-12),
            "epochs": self.epochs,
            "samples": self.samples,
        }


# --------------------------------------------------------------------------------- groups
def default_groups(spec: RobotSpec, joints: Sequence[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Joints sharing a drive: same drive model and torque limit, in actuator order."""
    out: dict[tuple[str, float], list[str]] = {}
    for act in spec.actuators:
        if joints is None or act.joint in joints:
            out.setdefault((act.model, act.torque_limit), []).append(act.joint)
    return {f"g{i}": tuple(v) for i, v in enumerate(out.values())}


def regex_groups(spec: RobotSpec, patterns: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """One group per regular expression (matched in full against actuated joint names); every
    actuated joint must fall in exactly one.

    Raises:
        Sim2RealError: a bad pattern, a pattern matching nothing, or a joint in none or several.
    """
    groups = {}
    for i, pattern in enumerate(patterns):
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise Sim2RealError(f"--group {pattern!r}: not a regular expression ({exc})") from None
        hits = tuple(j for j in spec.actuated_joints if rx.fullmatch(j))
        if not hits:
            raise Sim2RealError(
                f"--group {pattern!r} matches no actuated joint ({', '.join(spec.actuated_joints)})"
            )
        groups[f"g{i}"] = hits
    seen = [j for v in groups.values() for j in v]
    twice = sorted({j for j in seen if seen.count(j) > 1})
    none = [j for j in spec.actuated_joints if j not in seen]
    if twice or none:
        raise Sim2RealError(
            f"--group: every actuated joint must be in exactly one group (in several: {twice}, in none: {none})"
        )
    return groups


# --------------------------------------------------------------------------------- the model
class _Correction(torch.nn.Module):
    """Linear drive on the newest sample plus a bounded learned correction (module docstring)."""

    def __init__(
        self,
        kind: Kind,
        history: int,
        hidden: int,
        mean: np.ndarray,
        std: np.ndarray,
        linear: np.ndarray,
        lag: int,
        bound: float,
        scale: float,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.history = history
        width = 2 * history
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, width))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(1, width))
        # a u_(t-lag) + b v_t + c on the raw inputs: u_(t-lag) is column lag, v_t column `history`
        weight = torch.zeros(1, width)
        weight[0, lag] = float(linear[0])
        weight[0, history] = float(linear[1])
        self.register_buffer("linear_w", weight)
        self.register_buffer("linear_b", torch.tensor([float(linear[2])]))
        self.register_buffer("bound", torch.tensor(float(bound)))
        # the layers' output is in units of the linear drive's residual: a drive of milli-newton
        # metres (a QUBE arm) and one of tens (a leg) start alike, inside the bound's linear range
        self.register_buffer("scale", torch.tensor(float(scale)))
        if kind == "mlp":
            layers: list[torch.nn.Module] = []
            size = width
            for _ in range(3):
                layers += [torch.nn.Linear(size, hidden), torch.nn.Softsign()]
                size = hidden
            layers.append(torch.nn.Linear(size, 1))
            self.mlp = torch.nn.Sequential(*layers)
        else:
            self.cell = torch.nn.GRUCell(width, hidden // 2)
            self.head = torch.nn.Sequential(
                torch.nn.Linear(hidden // 2 + width, hidden), torch.nn.Softsign(), torch.nn.Linear(hidden, 1)
            )

    def _total(self, x: torch.Tensor, correction: torch.Tensor) -> torch.Tensor:
        base = (x * self.linear_w).sum(dim=1, keepdim=True) + self.linear_b
        return base + self.bound * torch.tanh(self.scale * correction / self.bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> Any:
        """MLP: x (B, 2H) -> tau (B, 1).  GRU: x (B, 2H), h (B, hidden/2) -> (tau (B, 1), h' (B, hidden/2))."""
        xn = (x - self.mean) / self.std
        if self.kind == "mlp":
            return self._total(x, self.mlp(xn))
        h2 = self.cell(xn, h)
        return self._total(x, self.head(torch.cat([h2, xn], dim=1))), h2


class _Graph(torch.nn.Module):
    """Every group's network in one module, inputs and outputs named per group (export)."""

    def __init__(self, nets: dict[str, _Correction]) -> None:
        super().__init__()
        self.names = list(nets)
        self.nets = torch.nn.ModuleList(nets.values())

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs: list[torch.Tensor] = []
        if self.nets[0].kind == "mlp":
            for net, x in zip(self.nets, inputs, strict=True):
                outs.append(net(x))
            return tuple(outs)
        for k, net in enumerate(self.nets):
            tau, h = net(inputs[2 * k], inputs[2 * k + 1])
            outs += [tau, h]
        return tuple(outs)


# --------------------------------------------------------------------------------- training
def _split(samples: TorqueSamples, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Masks of training and validation samples: the last ``share`` of every log's time is held out."""
    val = np.zeros(samples.n, dtype=bool)
    for li in np.unique(samples.log):
        rows = np.flatnonzero(samples.log == li)
        t = samples.t[rows]
        cut = t[0] + (1.0 - share) * (t[-1] - t[0])
        val[rows[t > cut]] = True
    if share > 0 and (val.all() or not val.any()):
        raise Sim2RealError("the logs are too short to hold out a validation share")
    return ~val, val


def _rows(x: np.ndarray, kind: Kind) -> np.ndarray:
    """Network inputs (S, m, 2, H) -> rows (S, m, 2H) (an MLP's input; a GRU's at each step)."""
    return x.reshape(*x.shape[:2], -1)


def _sequences(log: np.ndarray, n: int, length: int) -> list[np.ndarray]:
    """Index runs of ``length`` consecutive samples of one log (the last run of a log may be shorter)."""
    out = []
    for li in np.unique(log):
        rows = np.flatnonzero(log == li)
        out += [rows[i : i + length] for i in range(0, rows.size, length) if rows[i : i + length].size > 1]
    return out


def _linear_torque(x: np.ndarray, linear: np.ndarray, lag: int, history: int) -> np.ndarray:
    """``a u_(t - lag) + b v_t + c`` of input rows ``x`` (n, 2 history)."""
    return linear[0] * x[:, lag] + linear[1] * x[:, history] + linear[2]


def _linear_drive(x: np.ndarray, y: np.ndarray, history: int) -> tuple[np.ndarray, int]:
    """Least-squares ``(a, b, c)`` of the linear drive and the lag of its input (in history
    samples): the one past sample of the position error or command that explains the torque best
    (a drive whose latency exceeds the sample period acts on an older command)."""
    best: tuple[float, np.ndarray, int] | None = None
    for lag in range(history):
        design = np.stack([x[:, lag], x[:, history], np.ones(len(x))], axis=1)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        cost = float(np.sum((design @ coef - y) ** 2))
        if best is None or cost < best[0]:
            best = (cost, coef, lag)
    assert best is not None
    return best[1], best[2]


def _train_group(
    train: TorqueSamples, val: TorqueSamples, cols: np.ndarray, config: NetFitConfig
) -> tuple[_Correction, int]:
    """One group's network (best validation epoch) and the epochs run."""
    kind = config.kind
    xt = _rows(train.x[:, cols], kind)  # (S, k, w)
    yt = train.tau[:, cols]
    flat_x, flat_y = xt.reshape(-1, xt.shape[-1]), yt.reshape(-1)
    linear, lag = _linear_drive(flat_x, flat_y, config.history)
    residual = flat_y - _linear_torque(flat_x, linear, lag, config.history)
    bound = config.bound * max(float(np.quantile(np.abs(residual), 0.999)), 1e-6)
    scale = max(float(residual.std()), 1e-9)
    std = flat_x.std(axis=0)
    net = _Correction(
        kind,
        config.history,
        config.hidden,
        flat_x.mean(axis=0),
        np.where(std > 0, std, 1.0),
        linear,
        lag,
        bound,
        scale,
    )
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs)
    gen = torch.Generator().manual_seed(config.seed)
    tx, ty = torch.tensor(xt, dtype=torch.float32), torch.tensor(yt, dtype=torch.float32)
    vx = torch.tensor(_rows(val.x[:, cols], kind), dtype=torch.float32)
    vy = torch.tensor(val.tau[:, cols], dtype=torch.float32)
    seqs = _sequences(train.log, train.n, config.sequence) if kind == "gru" else []
    best, best_state, since, ran = np.inf, None, 0, 0
    for epoch in range(1, config.epochs + 1):
        ran = epoch
        net.train()
        if kind == "mlp":
            fx, fy = tx.reshape(-1, tx.shape[-1]), ty.reshape(-1, 1)
            order = torch.randperm(fx.shape[0], generator=gen)
            first = net.mlp[0].weight
            past = [c for c in range(first.shape[1]) if c % config.history]  # every column but u_t, v_t
            for start in range(0, order.numel(), config.batch):
                i = order[start : start + config.batch]
                loss = ((net(fx[i]) - fy[i]) / scale).pow(2).mean()
                if past and config.sparsity > 0:
                    loss = loss + config.sparsity * first[:, past].norm(dim=0).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        else:
            order = torch.randperm(len(seqs), generator=gen).tolist()
            per_step = max(1, config.batch // (config.sequence * len(cols)))  # runs of every joint
            for start in range(0, len(order), per_step):
                loss = _gru_loss(net, [seqs[j] for j in order[start : start + per_step]], tx, ty, scale)
                opt.zero_grad()
                loss.backward()
                opt.step()
        sched.step()
        current = _validation_loss(net, val, vx, vy, kind)
        if current < best - 1e-12:
            best, best_state, since = current, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            since += 1
            if since >= config.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, ran


def _gru_loss(
    net: _Correction, runs: list[np.ndarray], tx: torch.Tensor, ty: torch.Tensor, scale: float
) -> torch.Tensor:
    """Mean squared error of GRU runs (every joint of the group is a sequence), state from zero;
    runs of one length are stepped together."""
    total, count = torch.zeros(()), 0
    for length in sorted({r.size for r in runs}):
        idx = np.stack([r for r in runs if r.size == length])  # (R, T)
        x = tx[idx].transpose(0, 1).reshape(length, -1, tx.shape[-1])  # (T, R k, 2)
        y = ty[idx].transpose(0, 1).reshape(length, -1)
        h = torch.zeros(x.shape[1], net.cell.hidden_size)
        for k in range(length):
            tau, h = net(x[k], h)
            total = total + ((tau[:, 0] - y[k]) / scale).pow(2).sum()
        count += y.numel()
    return total / max(count, 1)


def _predict(net: _Correction, x: torch.Tensor, log: np.ndarray, kind: Kind) -> torch.Tensor:
    """Torque of every sample (S, k): MLP rows at once; GRU runs over each log from a zero state."""
    if kind == "mlp":
        return net(x.reshape(-1, x.shape[-1])).reshape(x.shape[0], x.shape[1])
    out = torch.zeros(x.shape[0], x.shape[1])
    for li in np.unique(log):
        rows = np.flatnonzero(log == li)
        h = torch.zeros(x.shape[1], net.cell.hidden_size)
        for r in rows:
            tau, h = net(x[r], h)
            out[r] = tau[:, 0]
    return out


def _validation_loss(
    net: _Correction, val: TorqueSamples, vx: torch.Tensor, vy: torch.Tensor, kind: Kind
) -> float:
    net.eval()
    with torch.no_grad():
        return float((_predict(net, vx, val.log, kind) - vy).pow(2).mean())


# --------------------------------------------------------------------------------- export
def _export(nets: dict[str, _Correction], meta: NetMetadata, path: Path) -> None:
    """Write one ONNX graph of every group, with the metadata."""
    import onnx

    graph = _Graph(nets).eval()
    kind = meta.kind
    inputs, names, outputs, batch = [], [], [], {}
    for g, net in nets.items():
        width = 2 * meta.history
        inputs.append(torch.zeros(2, width))
        names.append(f"x_{g}")
        outputs.append(f"tau_{g}")
        batch[f"x_{g}"] = batch[f"tau_{g}"] = f"batch_{g}"
        if kind == "gru":
            inputs.append(torch.zeros(2, net.cell.hidden_size))
            names.append(f"h_{g}")
            outputs.append(f"h_out_{g}")
            batch[f"h_{g}"] = batch[f"h_out_{g}"] = f"batch_{g}"
    proto = onnx_graph(graph, tuple(inputs), names, outputs, batch)
    del proto.metadata_props[:]
    for key, value in meta.as_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))


def _parity(
    path: Path, nets: dict[str, _Correction], val: TorqueSamples, groups: dict[str, np.ndarray]
) -> float:
    """Largest |onnxruntime - torch| torque over validation samples (one step of every group)."""
    runtime = ActuatorNet(path)
    worst = 0.0
    for g, cols in groups.items():
        x = _rows(val.x[: min(val.n, 256), cols], runtime.meta.kind).reshape(-1, runtime.width)
        feeds = {f"x_{g}": x.astype(np.float32)}
        net = nets[g]
        with torch.no_grad():
            if runtime.meta.kind == "mlp":
                ref = net(torch.tensor(x, dtype=torch.float32))[:, 0].numpy()
            else:
                h = np.zeros((x.shape[0], runtime.meta.hidden), np.float32)
                feeds[f"h_{g}"] = h
                ref = net(torch.tensor(x, dtype=torch.float32), torch.tensor(h))[0][:, 0].numpy()
        got = runtime.run(feeds)[f"tau_{g}"][:, 0]
        worst = max(worst, float(np.max(np.abs(got - ref))))
    return worst


# --------------------------------------------------------------------------------- the pipeline
def fit_actuator_net(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    out: str | Path,
    *,
    config: NetFitConfig | None = None,
    groups: dict[str, tuple[str, ...]] | None = None,
    drive: DriveModel | None = None,
) -> NetFitResult:
    """Fit one network per group of joints and write them to ``out`` (module docstring).

    Args:
        spec: The robot the logs come from.
        trajectories: Logs with commands and measured efforts.
        out: The ONNX file to write.
        config: Fit settings.
        groups: Group name -> joints (default :func:`default_groups`); one drive model per file.
        drive: The identified drive model to compare with (default: the spec's nominal one).

    Raises:
        LogError: logs without measured effort, or too short.
        Sim2RealError: groups of several drive models, or an export that onnxruntime disagrees with.
    """
    config = config or NetFitConfig()
    if config.kind not in ("mlp", "gru"):
        raise Sim2RealError(f"--kind must be mlp or gru, got {config.kind!r}")
    groups = groups or default_groups(spec)
    joints = [j for v in groups.values() for j in v]
    models = {spec.actuator(j).model for j in joints}
    if len(models) != 1:
        raise Sim2RealError(
            f"one network file models one kind of drive; these joints mix {', '.join(sorted(models))} "
            "(fit them apart with --group)"
        )
    kept = groups_with_efforts(trajectories, groups)
    if kept != groups:  # a joint without measured effort: the others' networks alone
        left = [j for v in kept.values() for j in v]
        drive = None if drive is None else drive.take([joints.index(j) for j in left])
        groups, joints = kept, left
    torch.manual_seed(config.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is fastest, and the machine's other cores stay free
    try:
        return _fit(spec, trajectories, Path(out), config, groups, joints, models.pop(), drive)
    finally:
        torch.set_num_threads(threads)


def groups_with_efforts(
    trajectories: Sequence[Trajectory], groups: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """``groups`` without the joints some log measures no effort of while it does others'
    (:func:`~.actuator_data.joints_with_efforts`, which says so), and without the groups left empty.

    Raises:
        LogError: Every joint left out.
    """
    kept = joints_with_efforts(trajectories, [j for v in groups.values() for j in v])
    out = {g: tuple(j for j in v if j in kept) for g, v in groups.items()}
    return {g: v for g, v in out.items() if v}


def _fit(
    spec: RobotSpec,
    trajectories: Sequence[Trajectory],
    path: Path,
    config: NetFitConfig,
    groups: dict[str, tuple[str, ...]],
    joints: list[str],
    drive_kind: str,
    drive: DriveModel | None,
) -> NetFitResult:
    dt = config.dt if config.dt is not None else sample_dt(trajectories)
    history = config.history
    samples = torque_samples(spec, trajectories, history, dt, joints, config.torque_constant)
    train_mask, val_mask = _split(samples, config.validation)
    train, val = samples.select(train_mask), samples.select(val_mask)
    columns = {g: np.array([joints.index(j) for j in v]) for g, v in groups.items()}
    nets, epochs = {}, {}
    for g, cols in columns.items():
        log.info(
            "fitting %s network of group %s (%s) on %d samples", config.kind, g, ", ".join(groups[g]), train.n
        )
        nets[g], epochs[g] = _train_group(train, val, cols, config)
    pred = np.zeros_like(val.tau)
    with torch.no_grad():
        for g, cols in columns.items():
            x = torch.tensor(_rows(val.x[:, cols], config.kind), dtype=torch.float32)
            pred[:, cols] = _predict(nets[g], x, val.log, config.kind).numpy()
    drive = drive if drive is not None else drive_model(spec, build_model(spec), joints)
    ridge = fit_ridge(train)
    pd_rmse = rmse(drive_torque(val, trajectories, drive), val)
    ridge_rmse = rmse(ridge_torque(val, ridge), val)
    net_rmse = rmse(pred, val)
    hidden = nets[next(iter(nets))].cell.hidden_size if config.kind == "gru" else 0
    meta = NetMetadata(
        kind=config.kind,
        drive=drive_kind,
        inputs=DRIVE_INPUTS[spec.actuator(joints[0]).model],
        history=history,
        dt=float(dt),
        groups=dict(groups),
        spec_hash=spec.hash,
        hidden=hidden,
        robot=spec.name,
        extra={
            "torque_source": "effort"
            if config.torque_constant is None
            else f"current x {config.torque_constant:g} N m/A",
            "baselines": {
                "drive": drive.as_dict(joints),
                "ridge": {j: m.as_dict() for j, m in ridge.items()},
            },
            "input_range": {
                g: {
                    channel: [float(train.x[:, cols, c, 0].min()), float(train.x[:, cols, c, 0].max())]
                    for c, channel in enumerate(DRIVE_INPUTS[drive_kind])
                }
                for g, cols in columns.items()
            },
            "validation": {
                "net_torque_rmse": net_rmse,
                "pd_torque_rmse": pd_rmse,
                "ridge_torque_rmse": ridge_rmse,
            },
        },
    )
    _export(nets, meta, path)
    gap = _parity(path, nets, val, columns)
    if not gap <= 1e-3 * max(1.0, float(np.abs(val.tau).max())):
        raise Sim2RealError(
            f"the exported network differs from the trained one by {gap:.3g} N m in onnxruntime"
        )
    return NetFitResult(
        path=path,
        meta=meta,
        net_torque_rmse=net_rmse,
        pd_torque_rmse=pd_rmse,
        ridge_torque_rmse=ridge_rmse,
        epochs=epochs,
        samples={"train": int(train.n), "validation": int(val.n)},
    )
