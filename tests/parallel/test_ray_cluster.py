"""Runs on a real Ray cluster on loopback: a head and two worker nodes (real raylet and worker
processes started by Ray's cluster utilities), joined by address like ``--ray HOST:PORT``."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="needs the ray extra")

from gap_testdata import balance_policy, balance_task

from sim2real.errors import Sim2RealError
from sim2real.gap.envelope import EnvelopeConfig, evaluate_envelope
from sim2real.parallel.ray_cluster import RayExecutor
from sim2real.robots import load_robot

GAP_TESTS = Path(__file__).resolve().parents[1] / "gap"
"""Where gap_testdata lives (the cluster's worker processes get it on their PYTHONPATH)."""

GRID = "actuator.motor.strength=0.05:1:3,joint.hinge.damping=0.1:0.35:2"


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise Sim2RealError("run three is bad input")
    return x


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1:1", "no Ray head answers there"),  # nothing listens on port 1
        ("nonsense", "not host:port"),
        ("host:99999", "not host:port"),
    ],
)
def test_an_address_no_ray_head_answers_is_one_line_at_once(address, words):
    """ray.init retried --ray bogus:1 for minutes; the address is tried once, with a timeout."""
    from sim2real.parallel.ray_cluster import _check_reachable

    with pytest.raises(Sim2RealError, match=words):
        _check_reachable(address, timeout=2.0)


@pytest.fixture(scope="module")
def cluster():
    """Head (no CPUs: runs go to the workers) + two one-CPU worker nodes, on 127.0.0.1.

    Worker processes find sim2real, this module and the gap test helpers (the custom task's reset)
    on PYTHONPATH, as a cluster's nodes find the user's code installed."""
    from ray.cluster_utils import Cluster

    src = Path(__file__).resolve().parents[2] / "src"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(src), str(GAP_TESTS), str(Path(__file__).parent)]))
        c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        try:
            for _ in range(2):
                c.add_node(num_cpus=1)
            c.wait_for_nodes()
            yield c
        finally:
            import ray

            ray.shutdown()
            c.shutdown()


def _busy_run_pids() -> list[int]:
    """Worker processes of this machine executing a run now (Ray titles them ray::sim2real_run)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"ray::sim2real_run"):
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow(seconds=30)
class TestRunsOnACluster:
    def test_results_come_back_in_order_each_once(self, cluster):
        seen = []
        with RayExecutor(cluster.address) as ex:
            out = ex.map(square, list(range(7)), lambda i, r: seen.append(i))
        assert out == [i * i for i in range(7)]
        assert sorted(seen) == list(range(7))

    def test_an_error_of_the_run_itself_is_the_same_one_line_error_and_not_retried(self, cluster):
        with RayExecutor(cluster.address) as ex, pytest.raises(Sim2RealError, match="run three is bad input"):
            ex.map(fail_on_three, [1, 2, 3, 4])
        assert ex.retries == 0


@pytest.fixture(scope="module")
def serial_envelope(tmp_path_factory):
    """The envelope run serially in this process: the reference map."""
    spec = load_robot("pendulum")
    policy = balance_policy(tmp_path_factory.mktemp("ray") / "balance.onnx")
    config = EnvelopeConfig(episodes=2, seed=2)
    serial = evaluate_envelope(spec, policy, GRID, config=config, task=balance_task(1.5))
    return spec, policy, config, serial


@pytest.mark.slow(seconds=45)
class TestEnvelopeOnACluster:
    def test_a_worker_killed_mid_run_still_gives_the_serial_map_each_cell_once(
        self, cluster, serial_envelope
    ):
        spec, policy, config, serial = serial_envelope
        assert 0 < serial.success_rate.mean() < 1  # a map with both outcomes
        killed: list[int] = []
        calls: list[int] = []

        def kill_one_busy_worker(done: int, total: int) -> None:
            calls.append(done)
            if killed:
                return
            # the first cell is back; the other node is inside a cell: kill its worker process
            for _ in range(2000):  # bounded: a cell lasts about a second
                pids = _busy_run_pids()
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                    return

        with RayExecutor(cluster.address) as ex:
            result = evaluate_envelope(
                spec,
                policy,
                GRID,
                config=config,
                task=balance_task(1.5),
                executor=ex,
                progress=kill_one_busy_worker,
            )
        assert killed, "no worker was busy to kill"
        assert ex.retries >= 1  # the killed run was resubmitted
        assert calls == list(range(1, 7))  # every cell counted once
        np.testing.assert_array_equal(result.successes, serial.successes)
        np.testing.assert_array_equal(result.reasons, serial.reasons)


@pytest.mark.slow(seconds=25)
class TestIdentifyOnACluster:
    def test_starts_on_the_cluster_give_the_serial_result(self, cluster, tmp_path, capsys):
        """``identify --starts 3 --ray ADDRESS`` (issue 19: results identical to the serial run for
        the same seeds), on this module's cluster: a Ray started for this test alone cost a fresh
        process (Ray starts a local cluster by forking the caller) and that cluster's start-up.
        ``--ray local`` is the sweep's (tests/commands/test_sweep.py); both go through one
        ``connect``."""
        from sysid_testdata import synthetic_log  # here: the cluster's workers import this module

        from sim2real.cli import main
        from sim2real.logs import write_bag

        truth = {"body.pole.mass": 0.72, "joint.hinge.damping": 0.28}
        write_bag(tmp_path / "run", synthetic_log("pendulum", truth, seconds=4.0))
        args = ["identify", str(tmp_path / "run"), "--robot", "pendulum", "--params", ",".join(truth),
                "--starts", "3", "--json"]  # fmt: skip
        summaries = []
        for extra in ([], ["--ray", cluster.address]):
            code = main([*args, *extra])
            out, err = capsys.readouterr()
            assert code == 0, err
            summaries.append(json.loads(out.strip().splitlines()[-1]))
        serial, ray = summaries
        assert serial["starts"]["n"] == 3 and serial["starts"]["converged"] == 3
        for summary in (serial, ray):
            summary.pop("seconds")
            for run in summary["starts"]["runs"]:
                run.pop("seconds")
        assert ray == serial
