"""`tokenfab factory run`: placement and isolation, failures, outputs, exports, bad input."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import EXAMPLES
from tokenfab.clikit import load_plan_or_intent
from tokenfab.factory.accounting import Cause
from tokenfab.factory.engine import run_factory
from tokenfab.factory.kpis import summarize
from tokenfab.factory.report import comparison, isolation, mark_references, network_cost, usd_text
from tokenfab.factory.spec import load_factory, variants


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True)


def run_all(path: Path):
    spec, raw = load_factory(path)
    fabric = load_plan_or_intent(path.parent / spec.fabric)
    return [(name, run, summarize(run)) for name, sp in variants(spec, raw) for run in [run_factory(sp, fabric)]]


@pytest.fixture(scope="module")
def placement_runs():
    return {name: (run, s) for name, run, s in run_all(EXAMPLES / "factory-placement.yaml")}


def test_topology_aware_beats_first_fit_on_isolation_and_tokens(placement_runs):
    (_, topo), (_, ff) = placement_runs["placement"], placement_runs["first-fit"]

    def moe(s):
        return [j for j in s["jobs"] if j["name"].startswith("moe")]

    # topology-aware keeps every MoE job inside one scalable unit, and they do not slow each other
    assert all(j["scalable_units"] == 1 and j["slowdown"] == 1.0 for j in moe(topo))
    # first-fit lets some straddle two units, where their all-to-alls meet on the same uplinks
    straddling = [j for j in moe(ff) if j["scalable_units"] > 1]
    assert len(straddling) >= 2
    assert all(j["slowdown"] > 1.02 and j["contended_on"] for j in straddling)
    assert isolation(ff)["mean_slowdown"] > isolation(topo)["mean_slowdown"] == 1.0
    # ...and the factory produces fewer tokens, the MoE jobs a lower MFU
    rows = {r["variant"]: r for r in comparison([topo, ff])}
    assert rows["first-fit"]["tokens_change_pct"] < 0
    assert sum(j["tokens"] for j in moe(ff)) < sum(j["tokens"] for j in moe(topo))
    print(
        f"\nfirst-fit vs topology-aware: tokens {rows['first-fit']['tokens_change_pct']:+.2f}%, "
        f"MoE tokens {sum(j['tokens'] for j in moe(ff)) / sum(j['tokens'] for j in moe(topo)) - 1:+.1%}, "
        f"worst slowdown {isolation(ff)['worst_slowdown']}"
    )


def test_accounting_is_conserved(placement_runs):
    run, s = placement_runs["placement"]
    n = run.cluster.n_gpus
    E = run.epochs
    # epochs tile the window
    assert E[0].t0_s == 0 and E[-1].t1_s == pytest.approx(run.spec.window_s)
    assert all(a.t1_s == pytest.approx(b.t0_s) for a, b in zip(E, E[1:]))
    assert all(0 <= e.allocated_gpus <= n and e.gpus(Cause.COMPUTING) <= e.allocated_gpus + 1e-9 for e in E)
    assert all(e.gpus_by_cause.sum() == pytest.approx(n, rel=1e-9) for e in E)  # every GPU in one cause, always
    # GPU-seconds of the jobs = allocated GPU-seconds of the timeline
    alloc = sum(e.allocated_gpus * (e.t1_s - e.t0_s) for e in E)
    assert sum(j.acc.gpu_s for j in run.jobs) == pytest.approx(alloc)
    # every GPU-second of the window is booked to exactly one cause
    assert run.gpu_s_by_cause().sum() == pytest.approx(n * run.spec.window_s, rel=1e-9)
    # every token belongs to a job, every job to a tenant
    assert s["totals"]["tokens"] == pytest.approx(sum(j["tokens"] for j in s["jobs"]), rel=1e-6)
    assert sum(t["gpu_h"] for t in s["tenants"]) == pytest.approx(alloc / 3600, rel=1e-4)
    # a GPU is never given to two jobs at once
    for e in E[:: max(1, len(E) // 20)]:
        t = (e.t0_s + e.t1_s) / 2
        live = [j for j in run.jobs if j.start_s is not None and j.start_s <= t < (j.end_s or np.inf)]
        gpus = np.concatenate([j.placement for j in live]) if live else np.zeros(0)
        assert len(gpus) == len(np.unique(gpus)) == e.allocated_gpus


def test_a_spine_failure_costs_a_reported_amount_of_tokens():
    got = run_all(EXAMPLES / "factory-spine.yaml")
    mark_references([(run, s) for _, run, s in got])
    runs = {name: s for name, _, s in got}
    rows = {r["variant"]: r for r in comparison(list(runs.values()))}
    lost = rows["spine-1-down"]["tokens_change_pct"]
    print(
        f"\nspine-1 down: tokens {lost:+.2f}%, TPOT {runs['spine']['jobs'][0]['tpot_s'] * 1e3:.1f} -> "
        f"{runs['spine-1-down']['jobs'][0]['tpot_s'] * 1e3:.1f} ms"
    )
    assert lost < -2.0
    assert runs["spine-1-down"]["jobs"][0]["tpot_s"] > runs["spine"]["jobs"][0]["tpot_s"]
    assert rows["spine-1-down"]["network_idle_gpu_h"] > rows["spine"]["network_idle_gpu_h"]
    # the lost tokens are priced at what the base paid per token of that job
    cost = {r["variant"]: r for r in network_cost(list(runs.values()))}
    down = cost["spine-1-down"]
    base_job = runs["spine"]["jobs"][0]
    assert down["lost_tokens_usd"] == pytest.approx(-down["tokens_change"] * base_job["cost_usd"] / base_job["tokens"], rel=1e-3)
    assert down["lost_tokens_usd"] > 10
    # spraying with the same spine down is compared with ECMP with the spine down, not the healthy base
    spray = rows["spine-1-down-spray"]
    assert spray["against"] == "spine-1-down" and cost["spine-1-down-spray"]["against"] == "spine-1-down"
    assert spray["tokens_change_pct"] > 5.0
    assert cost["spine-1-down-spray"]["lost_tokens_usd"] == 0.0
    print(f"spraying with spine-1 down: tokens {spray['tokens_change_pct']:+.2f}% against ECMP with spine-1 down")


def test_dollars_print_with_the_sign_before_the_dollar():
    assert [usd_text(x) for x in (-0.0, 0.2, -0.4, 1234.5, -56.0)] == ["$0", "$0", "$0", "$1,234", "-$56"]


def test_run_writes_outputs_deterministically(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        r = run_cli("factory", "run", EXAMPLES / "factory-256.yaml", "-o", out)
        assert r.returncode == 0, r.stderr
    files = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    for name in (
        "summary.json",
        "comparison.csv",
        "jobs.csv",
        "tenants.csv",
        "timeline.csv",
        "utilization.svg",
        "placement.csv",
        "topology.conf",
        "kubernetes/label-nodes.sh",
        "kubernetes/kueue-topology.yaml",
        "compare/first-fit/jobs.csv",
        "compare/liquid-cooled/utilization.svg",
    ):
        assert name in files
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    doc = json.loads((a / "summary.json").read_text())
    t = doc["runs"]["factory-256"]["totals"]
    assert t["tokens"] > 0 and 0 < t["gpu_utilization_pct"] <= t["gpu_allocation_pct"] <= 100
    assert t["usd_per_gpu_hour"] > 0 and t["tokens_per_kwh"] > 0 and t["tokens_per_s_per_mw"] > 0
    p = doc["runs"]["factory-256"]["power"]
    assert p["facility_w"] == pytest.approx(p["it_w"] * p["pue"], rel=1e-3)
    assert min(p["gpus_w"], p["switches_w"], p["optics_w"], p["nics_w"], p["servers_overhead_w"]) > 0
    # a lower PUE only changes energy and cost
    lc = doc["runs"]["liquid-cooled"]["totals"]
    assert lc["tokens"] == t["tokens"] and lc["energy_facility_kwh"] < t["energy_facility_kwh"]
    assert "<svg" in (a / "utilization.svg").read_text()
    svg = (a / "utilization.svg").read_text()
    assert "<dc:date>" not in svg and re.search(r"\b\d{4}-\d{2}-\d{2}", svg) is None  # no date: same bytes any day
    # the printed headline is the written one
    assert f"{t['tokens']:,.0f}" in r.stdout and f"${t['cost_usd']:,.0f}" in r.stdout
    assert f"wrote {len([f for f in files if not f.startswith('.')])} files to" in r.stdout  # the marker is not a result


def test_scheduler_exports():
    from tokenfab.factory.cluster import Cluster
    from tokenfab.factory.export import hostlist, kueue_topology_yaml, node_labels, slurm_topology_conf

    assert hostlist(["srv-1", "srv-2", "srv-3", "srv-7", "srv-9", "srv-10"]) == "srv-[1-3,7,9-10]"
    cl = Cluster(load_plan_or_intent(EXAMPLES / "validation" / "h100-16k.yaml"))  # three tiers, 8 pods
    conf = slurm_topology_conf(cl)
    assert "SwitchName=su1 Nodes=srv-[1-64]" in conf
    assert "SwitchName=pod1 Switches=su[1-4]" in conf
    assert "SwitchName=core Switches=pod[1-8]" in conf
    assert node_labels(cl)["srv-300"] == {
        "tokenfab.io/fabric": "h100-16k",
        "tokenfab.io/scalable-unit": "su5",
        "tokenfab.io/pod": "pod2",
    }
    topo, flavor = yaml.safe_load_all(kueue_topology_yaml(cl))
    assert topo["kind"] == "Topology" and [lv["nodeLabel"] for lv in topo["spec"]["levels"]] == [
        "tokenfab.io/pod",
        "tokenfab.io/scalable-unit",
        "kubernetes.io/hostname",
    ]
    assert flavor["spec"]["topologyName"] == "h100-16k" and flavor["spec"]["nodeLabels"]


BASE = {"name": "bad", "fabric": "../examples/rail-optimized-256.yaml", "window_h": 1, "network": {"model": "analytical"}}
T = {"model": "llama3-8b", "seq_len": 4096, "global_batch": 64, "parallelism": {"tp": 4, "dp": 8}}


@pytest.mark.parametrize(
    "job, expect",
    [
        ({"training": {**T, "parallelism": {"tp": 8, "dp": 4}}}, "jobs.0.training.parallelism.tp"),  # TP > 4-GPU server
        ({"training": {**T, "global_batch": 60}}, "jobs.0.training.global_batch"),  # 60 % (dp 8 x 1)
        ({"training": {**T, "parallelism": {"tp": 3, "dp": 8}}}, "jobs.0.training.parallelism.tp"),  # 3 does not divide
        ({"training": {**T, "parallelism": {"tp": 4, "dp": 128}}}, "jobs.0"),  # 512 GPUs > 256
        ({"training": {**T, "model": "gpt-9"}}, "jobs.0.training.model"),
        ({"training": {**T, "parallelism": {"tp": 4, "dp": 8, "ep": 2}}}, "jobs.0.training.parallelism.ep"),  # dense
        ({"workload": "nope"}, "jobs.0.workload"),
        ({"inference": {"model": "llama3-70b", "decode": {"tp": 8}}}, "jobs.0.inference.decode.tp"),
        ({"training": T, "steps": 0}, "jobs.0.steps"),
    ],
)
def test_bad_input_names_the_field_and_exits_2(tmp_path, job, expect):
    spec = dict(BASE, fabric=str(EXAMPLES / "rail-optimized-256.yaml"), jobs=[{"name": "j", **job}])
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    r = run_cli("factory", "run", path, "-o", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expect in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not out.exists()


def test_bad_fault_and_variant_are_refused(tmp_path):
    spec = dict(
        BASE,
        fabric=str(EXAMPLES / "rail-optimized-256.yaml"),
        jobs=[{"name": "j", "training": T}],
        faults=[{"at_h": 0, "down": "spine-99"}],
    )
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = run_cli("factory", "run", path, "-o", tmp_path / "out")
    assert r.returncode == 2 and "faults.0.down" in r.stderr and "spine-99" in r.stderr
    spec.pop("faults")
    spec["compare"] = [{"name": "v", "colour": "red"}]
    path.write_text(yaml.safe_dump(spec))
    r = run_cli("factory", "run", path, "-o", tmp_path / "out")
    assert r.returncode == 2 and "compare.0.colour" in r.stderr
