"""A factory sweep on a real local Ray cluster (a head and one worker node, each its own `ray start`,
started and stopped here): the tasks run on the worker node and the results equal the local pool's."""

import subprocess
import sys

import duckdb
import pytest
import yaml

from tests.ray_cluster import LocalRayCluster
from tests.test_sweep import FACTORY, MINI
from tokenfab.sweep import load_sweep, run_to_folder


@pytest.fixture(scope="module")
def cluster():
    # the head schedules and holds the cluster's state but runs no tasks (0 CPUs): every task must cross to
    # the worker node's process, whatever Ray's scheduler would prefer
    c = LocalRayCluster(head_cpus=0, worker_cpus=2).start()
    yield c
    c.stop()


def test_factory_sweep_on_ray_runs_on_the_worker_and_matches_the_local_pool(cluster, tmp_path):
    data = {
        "name": "ray",
        "base": MINI,
        "factory": FACTORY,
        "axes": [
            {"path": "fabric.leaf.oversubscription", "values": [1, 2]},
            {"path": "factory.scheduler.policy", "values": ["topology-aware", "first-fit"]},
            {"path": "factory.window_h", "values": [4, 6]},
        ],
        "objectives": [{"metric": "usd_per_mtoken", "goal": "min"}, {"metric": "tokens", "goal": "max"}],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    spec, base, factory = load_sweep(path)
    local, _ = run_to_folder(spec, base, factory, tmp_path / "local", jobs=2, show_progress=False)
    # the driver as people run it: `tokenfab sweep --ray ADDRESS`, in a process that holds the cluster's token
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "sweep", str(path), "-o", str(tmp_path / "ray"), "--ray", cluster.address],
        env=cluster.driver_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert [row["status"] for row in local] == ["ok"] * 8
    assert (tmp_path / "ray" / "results.csv").read_bytes() == (tmp_path / "local" / "results.csv").read_bytes()
    con = duckdb.connect(str(tmp_path / "ray" / "sweep.duckdb"), read_only=True)
    nodes = {n for (n,) in con.execute("select node from points").fetchall()}
    assert nodes == {cluster.worker_node_id}, (nodes, cluster.worker_node_id)  # the tasks ran on the worker node


def test_ray_tasks_plan_and_run_with_the_drivers_catalog(cluster, tmp_path):
    """`--catalog` files are read by the driver; the Ray tasks get their entries with the task (the
    worker node reads no file), the same as the local pool's workers."""
    from tests.test_catalog_user import _catalog_sweep

    path = _catalog_sweep(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "sweep", str(path), "-o", str(tmp_path / "ray"), "--ray", cluster.address]
        + ["--catalog", str(tmp_path / "hw.yaml")],
        env={**cluster.driver_env(), "TOKENFAB_CATALOG": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    con = duckdb.connect(str(tmp_path / "ray" / "sweep.duckdb"), read_only=True)
    rows = con.execute("select status, error, node, metrics from points order by point").fetchall()
    con.close()
    assert [(status, error, node) for status, error, node, _ in rows] == [("ok", "", cluster.worker_node_id)] * 2
    assert all(yaml.safe_load(m)["tokens"] > 0 for *_, m in rows)  # the catalog's model ran on the catalog's GPUs
