"""Sweeps: a grid of designs, the Pareto front, DuckDB results, bad specs."""

import subprocess
import sys

import duckdb
import pytest

from tests.conftest import EXAMPLES
from tokenfab import InputError
from tokenfab.sweep import load_sweep, run_sweep
from tokenfab.sweep.pareto import front

SPEC = """
name: t
base: {cluster: {servers: 128, gpus_per_server: 8}}
axes:
  - {path: fabric.switch_model, values: [CX864E-N, TH4-64x400G]}
  - {path: fabric.leaf.oversubscription, values: [1, 2, 3]}
  - {path: fabric.tiers, values: [auto, 1]}
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("sw") / "s.yaml"
    path.write_text(SPEC)
    spec, base = load_sweep(path)
    return spec, run_sweep(spec, base, jobs=2, show_progress=False)


def test_grid_front_and_infeasible_points(rows):
    spec, results = rows
    assert [r["point"] for r in results] == list(range(1, 13))
    bad = [r for r in results if r["status"] == "infeasible"]
    assert bad and all("one tier needs 1024 ports" in r["reason"] for r in bad)
    best = front(results, spec)
    ok = [r for r in results if r["status"] == "ok"]
    for r in ok:  # nothing on the front is beaten on both objectives by another design
        if r["point"] in best:
            assert not any(o["network_cost_usd"] <= r["network_cost_usd"] and o["uplink_gbps_per_gpu"] >= r["uplink_gbps_per_gpu"]
                           and (o["network_cost_usd"], o["uplink_gbps_per_gpu"]) != (r["network_cost_usd"], r["uplink_gbps_per_gpu"])
                           for o in ok)
    # more oversubscription never costs more for the same switch
    cx = sorted((r for r in ok if r["fabric.switch_model"] == "CX864E-N"), key=lambda r: r["fabric.leaf.oversubscription"])
    assert [r["network_cost_usd"] for r in cx] == sorted((r["network_cost_usd"] for r in cx), reverse=True)


def test_cli_writes_results_duckdb_and_plot_deterministically(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    outs = []
    for name in ("a", "b"):
        r = subprocess.run([sys.executable, "-m", "tokenfab.cli", "sweep", str(spec), "-o", str(tmp_path / name), "-j", "1"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs.append(tmp_path / name)
    for f in ("results.csv", "pareto.svg"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes()
    con = duckdb.connect(str(outs[0] / "sweep.duckdb"), read_only=True)
    n, cheapest = con.execute("select count(*), min(network_cost_usd) from results where status = 'ok'").fetchone()
    assert n == 6 and cheapest > 0


def test_example_sweep_loads():
    spec, base = load_sweep(EXAMPLES / "sweep-leaf-choices.yaml")
    assert base["cluster"]["servers"] == 256 and len(spec.axes) == 2


def test_misspelt_axis_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC.replace("fabric.switch_model", "fabric.swich_model"))
    with pytest.raises(InputError, match="swich_model"):
        load_sweep(path)


def test_ray_runs_the_same_points(rows):
    spec, local = rows
    small = spec.model_copy(update={"axes": spec.axes[:1]})
    via_ray = run_sweep(small, {"cluster": {"servers": 128, "gpus_per_server": 8}}, ray_address="local", show_progress=False)
    assert [r["network_cost_usd"] for r in via_ray] == [r["network_cost_usd"] for r in local
                                                        if r["fabric.leaf.oversubscription"] == 1 and r["fabric.tiers"] == "auto"]
