"""Sweeps: grids and samples of designs x simulate x factory variants, constraints, the Pareto front
over any number of objectives, DuckDB streaming, failures recorded, kill -9 and --resume."""

import os
import random
import signal
import subprocess
import sys
import time

import duckdb
import numpy as np
import pytest
import yaml

from tests.conftest import EXAMPLES
from tokenfab import InputError, parse_intent
from tokenfab.sweep import load_sweep, points, run_sweep, run_to_folder
from tokenfab.sweep.pareto import front

SPEC = """
name: t
base: {cluster: {servers: 128, gpus_per_server: 8}}
axes:
  - {path: fabric.switch_model, values: [CX864E-N, TH4-64x400G]}
  - {path: fabric.leaf.oversubscription, values: [1, 2, 3]}
  - {path: fabric.tiers, values: [auto, 1]}
"""

# a small factory (a few hours, 32 GPUs) on a small fabric: fast enough to run many times
FACTORY = {
    "name": "mini",
    "fabric": "unused",
    "window_h": 6,
    "network": {"model": "analytical"},
    "tenants": [{"name": "lab"}],
    "workloads": {
        "train": {
            "training": {"model": "llama3-8b", "seq_len": 4096, "global_batch": 32, "parallelism": {"tp": 4, "pp": 1, "dp": 4}}
        },
        "chat": {
            "inference": {
                "model": "llama3-8b",
                "decode": {"tp": 2, "replicas": 4},
                "batch": 16,
                "input_tokens": 1000,
                "output_tokens": 200,
            }
        },
    },
    "jobs": [
        {"name": "pre", "tenant": "lab", "workload": "train", "arrive_h": 0, "steps": 100000},
        {"name": "serve", "tenant": "lab", "workload": "chat", "arrive_h": 1},
    ],
}
MINI = {"cluster": {"servers": 8, "gpus_per_server": 4}}


def write_spec(tmp_path, text_or_data, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text_or_data if isinstance(text_or_data, str) else yaml.safe_dump(text_or_data))
    return path


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    path = write_spec(tmp_path_factory.mktemp("sw"), SPEC)
    spec, base, factory = load_sweep(path)
    return spec, run_sweep(spec, base, factory, jobs=1, show_progress=False)


def test_grid_front_and_infeasible_points(rows):
    spec, results = rows
    assert [r["point"] for r in results] == list(range(1, 13))
    bad = [r for r in results if r["status"] == "infeasible"]
    assert bad and all("one tier needs 1024 ports" in r["reason"] for r in bad)
    best = front(results, spec.objectives)
    ok = [r for r in results if r["status"] == "ok"]
    for r in ok:  # nothing on the front is beaten on both objectives by another design
        if r["point"] in best:
            assert not any(
                o["network_cost_usd"] <= r["network_cost_usd"]
                and o["uplink_gbps_per_gpu"] >= r["uplink_gbps_per_gpu"]
                and (o["network_cost_usd"], o["uplink_gbps_per_gpu"]) != (r["network_cost_usd"], r["uplink_gbps_per_gpu"])
                for o in ok
            )
    # more oversubscription never costs more for the same switch
    cx = sorted((r for r in ok if r["fabric.switch_model"] == "CX864E-N"), key=lambda r: r["fabric.leaf.oversubscription"])
    assert [r["network_cost_usd"] for r in cx] == sorted((r["network_cost_usd"] for r in cx), reverse=True)


def test_cli_writes_results_duckdb_plots_and_best_intents_deterministically(tmp_path):
    spec = write_spec(tmp_path, SPEC)
    outs = []
    for name in ("a", "b"):
        r = subprocess.run(
            [sys.executable, "-m", "tokenfab.cli", "sweep", str(spec), "-o", str(tmp_path / name), "-j", "1"],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        outs.append(tmp_path / name)
    svg = "pareto-network_cost_usd--uplink_gbps_per_gpu.svg"
    for f in ("results.csv", svg, "best/01-point-5.yaml"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes()
    text = (outs[0] / svg).read_text()
    assert "network_cost_usd (USD), lower is better" in text and "Gb/s per GPU" in text
    con = duckdb.connect(str(outs[0] / "sweep.duckdb"), read_only=True)
    n, cheapest = con.execute("select count(*), min(network_cost_usd) from results where status = 'ok'").fetchone()
    assert n == 6 and cheapest > 0
    assert con.execute("select count(*) from points where status = 'pending'").fetchone() == (0,)
    assert duckdb.connect().execute(f"select count(*) from '{outs[0] / 'results.parquet'}'").fetchone() == (12,)
    # the best designs come out as intents ready for `tokenfab plan`
    best = sorted((outs[0] / "best").glob("*.yaml"))
    assert best and all(parse_intent(yaml.safe_load(p.read_text())) for p in best)
    # an existing folder is refused without --resume or --force
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "sweep", str(spec), "-o", str(outs[0])], capture_output=True, text=True
    )
    assert r.returncode == 2 and "--resume" in r.stderr and "Traceback" not in r.stderr


def test_example_sweeps_load():
    spec, base, _ = load_sweep(EXAMPLES / "sweep-leaf-choices.yaml")
    assert base["cluster"]["servers"] == 256 and len(spec.axes) == 2
    spec, base, factory = load_sweep(EXAMPLES / "sweep-factory.yaml")
    assert factory is not None and spec.simulate is not None and len(spec.objectives) >= 3


def test_misspelt_axis_and_unknown_metric_are_refused_before_running(tmp_path):
    with pytest.raises(InputError, match="swich_model"):
        load_sweep(write_spec(tmp_path, SPEC.replace("fabric.switch_model", "fabric.swich_model")))
    bad = SPEC + "objectives:\n  - {metric: tokens_per_kwh, goal: max}\n"
    with pytest.raises(
        InputError, match=r"objectives.0.metric: unknown metric 'tokens_per_kwh' for this sweep \(plan\); known: "
    ):
        load_sweep(write_spec(tmp_path, bad))
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "sweep", str(write_spec(tmp_path, bad)), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown metric" in r.stderr and not (tmp_path / "o").exists()
    sim_axis = SPEC + "  - {path: simulate.qps, values: [1, 2]}\n"
    with pytest.raises(InputError, match="no simulate scenario"):
        load_sweep(write_spec(tmp_path, sim_axis))
    late = SPEC + "simulate: {gpus: 8}\nconstraints:\n  - {metric: all_reduce_ecmp_busbw_gbytes_per_s, min: 10}\n"
    with pytest.raises(InputError, match="known only after simulating"):
        load_sweep(write_spec(tmp_path, late))


def test_random_and_latin_hypercube_sampling(tmp_path):
    data = {
        "name": "s",
        "base": {"cluster": {"servers": 64, "gpus_per_server": 8}},
        "axes": [
            {"path": "fabric.leaf.oversubscription", "range": [1, 4]},
            {"path": "fabric.switch_model", "values": ["CX864E-N", "TH5-64x800G", "SN5600", "TH4-64x400G"]},
        ],
        "sampling": {"method": "lhs", "points": 8, "seed": 3},
    }
    spec, base, _ = load_sweep(write_spec(tmp_path, data))
    pts = points(spec, base)
    over = np.array([p.axes["fabric.leaf.oversubscription"] for p in pts])
    assert len(pts) == 8 and over.min() >= 1 and over.max() <= 4
    # Latin hypercube: each eighth of the range holds exactly one draw; each model is drawn twice
    assert sorted(np.floor((over - 1) / 3 * 8).astype(int).tolist()) == list(range(8))
    assert sorted([p.axes["fabric.switch_model"] for p in pts]).count("SN5600") == 2
    assert [p.axes for p in pts] == [p.axes for p in points(spec, base)]  # same seed, same points
    data["sampling"] = {"method": "random", "points": 5, "seed": 1}
    spec, base, _ = load_sweep(write_spec(tmp_path, data))
    assert len({p.design for p in points(spec, base)}) == 5
    data["sampling"] = {"method": "grid"}
    with pytest.raises(InputError, match="a range needs random or lhs sampling"):
        spec, base, _ = load_sweep(write_spec(tmp_path, data))
        points(spec, base)


def test_simulate_and_factory_points_share_a_plan_and_constraints_prune(tmp_path):
    data = {
        "name": "sf",
        "base": MINI,
        "factory": FACTORY,
        "simulate": {"collectives": ["all_reduce"], "routing": ["ecmp", "spray"], "size": "64M", "gpus": 16},
        "axes": [
            {"path": "fabric.switch_model", "values": ["CX864E-N", "CX732Q-N"]},
            {"path": "simulate.qps", "values": [1, 4]},
            {"path": "factory.scheduler.policy", "values": ["topology-aware", "first-fit"]},
        ],
        "constraints": [{"metric": "network_cost_usd", "max": 100000}],
        "objectives": [
            {"metric": "usd_per_mtoken", "goal": "min"},
            {"metric": "all_reduce_ecmp_busbw_gbytes_per_s", "goal": "max"},
            {"metric": "network_cost_usd", "goal": "min"},
        ],
    }
    spec, base, factory = load_sweep(write_spec(tmp_path, data))
    rows, best = run_to_folder(spec, base, factory, tmp_path / "out", jobs=1, show_progress=False)
    assert len(rows) == 8 and len({p.design for p in points(spec, base, factory)}) == 2
    ok = [r for r in rows if r["status"] == "ok"]
    pruned = [r for r in rows if r["status"] == "pruned"]
    assert ok and pruned and {r["fabric.switch_model"] for r in pruned} == {"CX864E-N"}
    assert all(
        r["reason"].startswith("constraint: network_cost_usd") and "all_reduce_ecmp_busbw_gbytes_per_s" not in r for r in pruned
    )
    for r in ok:
        assert r["all_reduce_ecmp_busbw_gbytes_per_s"] > 0 and r["all_reduce_spray_busbw_gbytes_per_s"] > 0
        assert 0 < r["all_reduce_ecmp_worst_link_load_pct"] <= 100.0001 and 0 < r["all_reduce_ecmp_gpu_idle_pct"] < 100
        assert r["tokens"] > 0 and r["usd_per_mtoken"] > 0 and r["tokens_per_kwh"] > 0 and r["network_idle_gpu_h"] >= 0
        assert r["training_tokens"] > 0  # the 100,000-step job trains on the one-switch fabric (no finish needed)
    assert best and {r["point"] for r in rows if r["pareto"]} == set(best)
    assert len(list((tmp_path / "out").glob("pareto-*.svg"))) == 3


def test_axes_reach_into_lists_of_the_factory_file():
    from tokenfab.sweep.spec import set_path

    changed = set_path(FACTORY, "jobs.1.arrive_h", 3, "factory file")
    assert changed["jobs"][1]["arrive_h"] == 3 and FACTORY["jobs"][1]["arrive_h"] == 1
    with pytest.raises(InputError, match=r"jobs.5.arrive_h: '5' is not an item of that list in the factory file \(it has 2"):
        set_path(FACTORY, "jobs.5.arrive_h", 3, "factory file")


def test_a_failing_point_records_its_error_and_the_sweep_goes_on(tmp_path):
    data = {
        "name": "ff",
        "base": MINI,
        "simulate": {"gpus": 8, "size": "16M"},
        "axes": [{"path": "simulate.fail", "values": [[], ["spine-99"]]}],
        "objectives": [{"metric": "all_reduce_ecmp_busbw_gbytes_per_s", "goal": "max"}],
    }
    spec, base, factory = load_sweep(write_spec(tmp_path, data))
    rows, _ = run_to_folder(spec, base, factory, tmp_path / "o", jobs=2, show_progress=False)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "spine-99" in rows[1]["reason"] and rows[0]["all_reduce_ecmp_busbw_gbytes_per_s"] > 0
    assert (tmp_path / "o" / "objective-all_reduce_ecmp_busbw_gbytes_per_s.svg").exists()


KILL_SPEC = {
    "name": "k",
    "base": {"cluster": {"servers": 64, "gpus_per_server": 8}},
    "axes": [
        {"path": "cluster.servers", "values": list(range(40, 160, 8))},
        {"path": "fabric.leaf.oversubscription", "values": [1, 2]},
    ],
}


def _sweep(spec, out, *extra):
    return [sys.executable, "-m", "tokenfab.cli", "sweep", str(spec), "-o", str(out), "-j", "2", *extra]


@pytest.fixture(scope="module")
def kill_ref(tmp_path_factory):
    """The sweep's results when nothing is killed."""
    tmp = tmp_path_factory.mktemp("kill")
    spec = write_spec(tmp, KILL_SPEC)
    run_to_folder(*load_sweep(spec), tmp / "ref", jobs=1, show_progress=False)
    return spec, (tmp / "ref" / "results.csv").read_text()


def test_kill_minus_9_of_the_driver_at_random_points_then_resume(tmp_path, kill_ref):
    spec, ref = kill_ref
    out = tmp_path / "killed"
    rng = random.Random(13)
    kills = 0
    for attempt in range(6):
        args = _sweep(spec, out, *(["--resume"] if attempt else []))
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(rng.uniform(0.5, 2.5))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)  # the driver only: its pool workers die with it (PR_SET_PDEATHSIG)
            p.wait()
            kills += 1
            continue
        assert p.returncode == 0, p.stderr.read().decode()
        break
    assert kills >= 1
    done = subprocess.run(_sweep(spec, out, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # nothing lost, nothing duplicated: the same results as the run that was never killed
    assert (out / "results.csv").read_text() == ref
    con = duckdb.connect(str(out / "sweep.duckdb"), read_only=True)
    assert con.execute("select count(*), count(distinct point) from points where status <> 'pending'").fetchone() == (30, 30)


def _pool_workers(pid: int) -> list[int]:
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids += [int(k) for k in open(f"/proc/{pid}/task/{task}/children").read().split()]
        except OSError:
            pass
    out = []
    for k in kids:
        try:
            cmd = open(f"/proc/{k}/cmdline").read()
        except OSError:
            continue
        if "spawn_main" in cmd and "resource_tracker" not in cmd:
            out.append(k)
    return out


def test_kill_minus_9_of_a_pool_worker_the_sweep_restarts_it_and_finishes(tmp_path, kill_ref):
    spec, ref = kill_ref
    p = subprocess.Popen(_sweep(spec, tmp_path / "o"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and p.poll() is None and time.monotonic() < deadline:
        workers = _pool_workers(p.pid)
        if workers:
            time.sleep(0.5)  # let it get going
            os.kill(workers[0], signal.SIGKILL)
            killed = workers[0]
        time.sleep(0.1)
    assert p.wait(120) == 0, p.stderr.read().decode()
    assert killed is not None
    assert (tmp_path / "o" / "results.csv").read_text() == ref
