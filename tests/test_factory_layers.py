"""The factory as one system: what the network costs, storage starvation, checkpoint intervals
against Young/Daly, outputs, and bad input across layers."""

import json
import math
import subprocess
import sys

import pytest
import yaml

from tests.conftest import EXAMPLES
from tests.factory_fabrics import small
from tokenfab.clikit import load_plan_or_intent
from tokenfab.errors import InputError
from tokenfab.factory.accounting import Cause
from tokenfab.factory.checkpoint import advance_cycle, time_for_work, young_daly_s
from tokenfab.factory.engine import Engine, make_comm, run_factory
from tokenfab.factory.kpis import summarize
from tokenfab.factory.report import network_cost
from tokenfab.factory.spec import Failures, load_factory, parse_factory, variants


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True)


# -- the demo's question: what does a degraded network cost? ----------------------------------------
def test_jitter_and_loss_cost_tokens_and_slos_by_a_reported_amount():
    spec, raw = load_factory(EXAMPLES / "factory-demo.yaml")
    # six hours around the assistant's peak (same arrivals and failures in both runs)
    raw = dict(raw, window_h=6)
    for s in raw["services"]:
        s["arrivals"]["diurnal"]["peak_h"] = 3
    fabric = load_plan_or_intent(EXAMPLES / spec.fabric)
    runs = [(name, summarize(run_factory(sp, fabric))) for name, sp in variants(parse_factory(raw), raw)]
    base, bad = runs[0][1], runs[1][1]
    (row,) = network_cost([base, bad])
    svc = {v["service"]: v for v in row["services"]}
    a = svc["assistant"]
    print(
        f"\njitter + loss: inference tokens {row['inference_output_tokens_change']:+,.0f} "
        f"({row['inference_output_tokens_change_pct']:+.2f}%), SLO {row['slo_points_change']:+.2f} pts, assistant SLO "
        f"{a['base_attainment_pct']:.1f}% -> {a['attainment_pct']:.1f}%, TPOT {a['base_tpot_ms']:.1f} -> "
        f"{a['tpot_ms']:.1f} ms, +{row['network_gpu_h_change']:.1f} GPU-h on the network = ${row['network_idle_usd']:,.0f}, "
        f"tokens lost worth ${row['lost_tokens_usd']:,.0f}"
    )
    # the assistant's expert-parallel decode crosses the fabric every layer: jitter and loss slow it
    assert a["tpot_ms"] > 1.2 * a["base_tpot_ms"]
    assert a["output_tokens_change"] < 0 and row["inference_output_tokens_change"] < 0
    assert a["attainment_pct"] < a["base_attainment_pct"] - 10
    assert row["slo_points_change"] < -1 and row["requests_abandoned_change"] > 0
    assert row["network_gpu_h_change"] > 0 and row["network_idle_usd"] > 0 and row["lost_tokens_usd"] > 0
    # a service whose replicas stay inside one server only feels the frontend's loss (TCP timeouts)
    p = svc["pdm-scorer"]
    assert abs(p["tpot_ms"] - p["base_tpot_ms"]) < 0.5 and p["attainment_pct"] > p["base_attainment_pct"] - 1

    # the same requests arrived in both runs
    def arr(s):
        return {v["service"]: v["requests_arrived"] for v in s["ledger"]["inference"]}

    assert arr(base) == arr(bad)


# -- storage -------------------------------------------------------------------------------------------
def _reader(fabric_gbps_note: str) -> dict:
    return {
        "name": f"reader-{fabric_gbps_note}",
        "fabric": "(in memory)",
        "window_h": 1,
        "network": {"model": "analytical"},
        "storage": {"tiers": [{"name": "pfs", "capacity_tbytes": 300, "read_gbytes_per_s": 400, "write_gbytes_per_s": 200}]},
        # video frames: ~8 KB of pixels per visual token
        "datasets": [{"name": "frames", "tier": "pfs", "size_gbytes": 150000, "bytes_per_token": 8192}],
        "workloads": {
            "vlm": {"training": {"model": "llama3.2-1b", "seq_len": 4096, "global_batch": 64, "parallelism": {"dp": 32}}}
        },
        "jobs": [{"name": "vlm-pretrain", "workload": "vlm", "dataset": "frames", "max_epochs": 2}],
    }


def test_an_undersized_storage_fabric_starves_training_and_the_idle_is_storage():
    out = {}
    for label, fabric in (("thin", small(100, 1, 1)), ("planned", small(400, 8, 2))):
        run = run_factory(parse_factory(_reader(label)), fabric)
        j = run.jobs[0]
        st = fabric.design["networks"]["storage"]
        out[label] = (j, summarize(run), st)
    (thin, s_thin, st_thin), (ok, s_ok, st_ok) = out["thin"], out["planned"]
    need = ok.rates.tokens_per_s * 8192 / 1e9
    print(
        f"\nreads {need:.1f} GB/s; storage fabric {min(st_thin['bisection_gbps'], st_thin['storage_gbps']) / 8:.1f} GB/s -> "
        f"storage idle {100 * thin.acc.gpu_s_by_cause[Cause.STORAGE] / thin.acc.gpu_s:.1f}% of its GPU time, tokens "
        f"{thin.acc.tokens / ok.acc.tokens - 1:+.1%} against {min(st_ok['bisection_gbps'], st_ok['storage_gbps']) / 8:.0f} GB/s"
    )
    # the thin fabric (one storage node, one 100G link) carries 12.5 GB/s: less than the job reads
    assert min(st_thin["bisection_gbps"], st_thin["storage_gbps"]) / 8 < need
    expect = min(st_thin["bisection_gbps"], st_thin["storage_gbps"]) / 8 * 0.9 / need  # share of its reads it gets
    assert thin.storage_factor == pytest.approx(expect, rel=0.02)
    assert thin.acc.gpu_s_by_cause[Cause.STORAGE] / thin.acc.gpu_s == pytest.approx(1 - expect, rel=0.05)
    assert thin.acc.tokens / ok.acc.tokens == pytest.approx(expect, rel=0.02)
    assert ok.storage_factor == 1.0 and ok.acc.gpu_s_by_cause[Cause.STORAGE] == 0.0
    # and the ledger books it as storage, not network or starvation
    g_thin, g_ok = s_thin["ledger"]["gpu_time"], s_ok["ledger"]["gpu_time"]
    assert g_thin["storage"]["gpu_h"] > 10 * g_thin["network"]["gpu_h"]
    assert g_thin["pipeline_starvation"]["gpu_h"] == 0 == g_ok["storage"]["gpu_h"]
    assert g_thin["computing"]["gpu_h"] < g_ok["computing"]["gpu_h"]


def test_a_slow_pipeline_starves_training_and_the_idle_is_pipeline_starvation():
    d = _reader("pipe")
    d.pop("datasets")
    d["cpu_pools"] = [{"name": "etl", "nodes": 2}]
    d["sources"] = [{"name": "cams", "stream": {"records_per_s": 2000, "record_bytes": 500000}}]  # 1 GB/s of video
    d["pipelines"] = [
        {
            "name": "decode",
            "source": "cams",
            "pool": "etl",
            "nodes": 2,
            "buffer_gbytes": 50,
            "stages": [{"name": "decode", "mbytes_per_s_per_node": 400, "keep": 0.5}],
            "output": {"dataset": "frames", "tier": "pfs", "bytes_per_token": 8192},
        }
    ]
    run = run_factory(parse_factory(d), small(400, 8, 2))
    j = run.jobs[0]
    s = summarize(run)
    b = s["ledger"]["data"]["balance"]
    # 0.8 GB/s processed, 0.4 GB/s stored: 49K tokens/s for a job that could take ~10x more
    assert j.acc.gpu_s_by_cause[Cause.PIPELINE_STARVATION] / j.acc.gpu_s > 0.5
    assert s["ledger"]["gpu_time"]["pipeline_starvation"]["gpu_h"] > s["ledger"]["gpu_time"]["computing"]["gpu_h"]
    assert j.acc.tokens == pytest.approx(b["stored_bytes"] / 8192 * 2, rel=0.02)  # max_epochs 2: it ate everything
    dropped = s["ledger"]["data"]["pipelines"][0]["dropped_bytes"]
    assert list(dropped) == ["backpressure: buffer full (CPU nodes (heaviest stage: decode))"]
    assert b["unaccounted_bytes"] == pytest.approx(0, abs=1e3)


# -- checkpoints -----------------------------------------------------------------------------------------
def test_checkpoint_cycle_arithmetic():
    # 10 s work, 2 s write: 30 s from the start = two full cycles (24 s) + 6 s of work
    work, write, phase, done, mark = advance_cycle(0.0, 10.0, 2.0, 30.0)
    assert (work, write, phase, done, mark) == pytest.approx((26.0, 4.0, 6.0, 2, 20.0))
    assert time_for_work(0.0, 10.0, 2.0, 26.0) == pytest.approx(30.0)
    assert time_for_work(11.0, 10.0, 2.0, 1.0) == pytest.approx(2.0)  # finish writing, then work
    assert young_daly_s(60.0, 3600.0) == pytest.approx(math.sqrt(2 * 60 * 3600))


def _ckpt_factory(interval) -> dict:
    # job MTBF ~1 h: 16 GPUs at 1/16 failures per GPU-hour (~3,200x Llama 3's rate)
    scale = (1 / 16) / (Failures().per_gpu_s * 3600)
    return {
        "name": f"ckpt-{interval}",
        "fabric": "(in memory)",
        "window_h": 150,
        "seed": 3,
        "tick_min": 60,
        "network": {"model": "analytical"},
        "storage": {"tiers": [{"name": "pfs", "capacity_tbytes": 10, "read_gbytes_per_s": 2, "write_gbytes_per_s": 0.3}]},
        "workloads": {
            "ft": {"training": {"model": "llama3.2-1b", "seq_len": 2048, "global_batch": 32, "parallelism": {"dp": 16}}}
        },
        "jobs": [{"name": "ft", "workload": "ft", "checkpoint_min": interval}],
        "failures": {"scale": scale, "repair_h": 0.1, "restart_min": 2, "network_share": 0},
    }


def test_goodput_against_checkpoint_interval_peaks_near_young_daly():
    fabric = small(100, 1, 1, servers=8)
    probe = run_factory(parse_factory(dict(_ckpt_factory("auto"), window_h=0.5)), fabric).jobs[0]
    C = probe.ckpt.write_s
    mtbf = 1 / (Failures(scale=_ckpt_factory(1)["failures"]["scale"]).per_gpu_s * 16)
    opt_min = young_daly_s(C, mtbf) / 60
    assert probe.ckpt.interval_s / 60 == pytest.approx(opt_min, rel=1e-6)  # "auto" is Young/Daly
    factors = [0.25, 0.5, 1.0, 2.0, 4.0]
    goodput = {}
    for f in factors:
        j = run_factory(parse_factory(_ckpt_factory(opt_min * f)), fabric).jobs[0]
        goodput[f] = j.acc.tokens / j.acc.ideal_tokens
        assert j.acc.interruptions > 50
    print(
        f"\ncheckpoint write {C:.0f} s, job MTBF {mtbf / 3600:.2f} h, Young/Daly {opt_min:.1f} min; goodput: "
        + ", ".join(f"{opt_min * f:.1f} min {g:.3f}" for f, g in goodput.items())
    )
    best = max(goodput, key=goodput.get)
    assert best in (0.5, 1.0, 2.0)
    assert goodput[1.0] > goodput[0.25] + 0.02 and goodput[1.0] > goodput[4.0] + 0.02
    assert goodput[1.0] > max(goodput.values()) - 0.01


def test_a_failure_restarts_the_job_from_its_last_checkpoint():
    from tokenfab.factory.failures import FailureEvent

    d = dict(_ckpt_factory(10.0), window_h=2)
    d["failures"] = dict(d["failures"], scale=0.0)  # no random failures: one, placed by hand
    spec = parse_factory(d)
    eng = Engine(spec, small(100, 1, 1, servers=8), make_comm(spec))
    at = 2700.0

    def strike(_):  # fail the first server the job runs on
        job = eng.jobs[0]
        eng.push(at, "fail", FailureEvent(at, "server", int(job.placement[0] // 4), -1))

    eng.on("strike", strike)
    eng.push(at - 1, "strike", None)
    run = eng.run()
    j = run.jobs[0]
    rate = j.rates.tokens_per_s
    C, tau = j.ckpt.write_s, 600.0
    done = math.floor(at / (tau + C))  # checkpoints completed before the failure
    lost_s = at - done * (tau + C)  # work since the last one
    assert j.acc.interruptions == 1 and j.status == "running"
    assert j.acc.lost_tokens / rate == pytest.approx(lost_s, abs=0.5)
    # the restart: 2 min, then the checkpoint read back at the tier's 2 GB/s
    restore_s = j.ckpt.bytes / 2e9
    assert j.acc.gpu_s_by_cause[Cause.FAILURES] == pytest.approx(16 * (lost_s + 120 + restore_s), rel=0.01)
    assert run.storage.tiers["pfs"].read["restore"] == pytest.approx(j.ckpt.bytes)
    assert [e["kind"] for e in run.events] == ["failure"]
    assert len(j.history) == 2 and j.history[0][1] == pytest.approx(at)


# -- outputs ------------------------------------------------------------------------------------------
def test_layered_run_writes_a_report_and_ledger_deterministically(tmp_path):
    d = yaml.safe_load((EXAMPLES / "factory-demo.yaml").read_text())
    d["fabric"] = str(EXAMPLES / "rail-optimized-256.yaml")
    d["window_h"] = 3
    d["network"] = {"model": "analytical"}
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(d))
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        r = run_cli("factory", "run", path, "-o", out)
        assert r.returncode == 0, r.stderr
    files = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    for name in (
        "report.html",
        "ledger.json",
        "gpu-time.csv",
        "gpu-time.svg",
        "timeline.svg",
        "services.svg",
        "data-flow.svg",
        "services.csv",
        "pipelines.csv",
        "datasets.csv",
        "storage.csv",
        "training.csv",
        "events.csv",
        "network-cost.csv",
        "compare/jitter-loss/report.html",
        "compare/jitter-loss/ledger.json",
    ):
        assert name in files, name
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    html = (a / "report.html").read_text()
    assert html.count("<svg") >= 5 and "What the network cost" in html and "<?xml" not in html
    led = json.loads((a / "ledger.json").read_text())
    assert led["gpu_time_unaccounted_gpu_h"] == 0 and led["data"]["balance"]["unaccounted_bytes"] == 0
    assert {r["tenant"] for r in led["tokens"]["rows"]} == {"manufacturer", "enterprise", "public-sector"}
    assert "what jitter-loss costs against demo" in r.stdout and "data-to-tokens ledger" in r.stdout


# -- bad input -------------------------------------------------------------------------------------------
BASE = {
    "name": "bad",
    "fabric": "(in memory)",
    "window_h": 1,
    "network": {"model": "analytical"},
    "storage": {"tiers": [{"name": "pfs", "capacity_tbytes": 10, "read_gbytes_per_s": 5, "write_gbytes_per_s": 5}]},
    "cpu_pools": [{"name": "etl", "nodes": 2}],
    "sources": [{"name": "s", "tenant": "a", "stream": {"records_per_s": 10, "record_bytes": 100}}],
    "pipelines": [
        {
            "name": "p",
            "tenant": "a",
            "source": "s",
            "pool": "etl",
            "stages": [{"name": "x", "mbytes_per_s_per_node": 1}],
            "output": {"dataset": "d", "tier": "pfs"},
        }
    ],
    "tenants": [{"name": "a"}],
    "workloads": {
        "ft": {"training": {"model": "llama3.2-1b", "seq_len": 2048, "global_batch": 32, "parallelism": {"dp": 16}}},
        "serve": {"inference": {"model": "llama3.2-1b"}},
    },
}


def _with(**changes):
    d = json.loads(json.dumps(BASE))
    for path, value in changes.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        node[keys[-1]] = value
    return d


SVC = {"name": "chat", "tenant": "a", "arrivals": {"rate_per_s": 1}}
BAD = [
    (_with(pipelines__0__output__tier="lustre"), "pipelines.0.output.tier", "lustre"),
    (_with(services=[dict(SVC, inference={"model": "gpt-9"})]), "services.0.inference.model", "gpt-9"),
    (_with(services=[dict(SVC, workload="nope")]), "services.0.workload", "nope"),
    (_with(services=[dict(SVC, workload="ft")]), "services.0.workload", "training"),
    (
        _with(
            lifecycles=[{"name": "l", "tenant": "a", "dataset": "d", "train": {"workload": "ft", "steps": 1}, "deploy": "ghost"}]
        ),
        "lifecycles.0.deploy",
        "ghost",
    ),
    (
        _with(lifecycles=[{"name": "l", "tenant": "a", "dataset": "nope", "train": {"workload": "ft", "steps": 1}}]),
        "lifecycles.0.dataset",
        "nope",
    ),
    (_with(pipelines__0__pool="gpu-pool"), "pipelines.0.pool", "gpu-pool"),
    (_with(tenants=[{"name": "a", "sovereignty": {"site": "moon"}}]), "tenants.0.sovereignty.site", "moon"),
    # the engine's checks, against the fabric
    (
        _with(
            tenants=[{"name": "a", "sovereignty": {"racks": ["rack-1"]}}], jobs=[{"name": "j", "tenant": "a", "workload": "ft"}]
        ),
        "tenants.0.sovereignty",
        "never run",
    ),
    (_with(tenants=[{"name": "a", "sovereignty": {"racks": ["rack-99"]}}]), "tenants.0.sovereignty.racks", "rack-99"),
    (
        _with(tenants=[{"name": "a", "quota_gpus": 8}], jobs=[{"name": "j", "tenant": "a", "workload": "ft"}]),
        "tenants.0.quota_gpus",
        "quota of 8",
    ),
    (_with(tenants=[{"name": "a", "sovereignty": {"racks": ["rack-1"]}}]), "pipelines.0.pool", "sovereign"),
]


@pytest.mark.parametrize("d, field, word", BAD)
def test_bad_references_and_impossible_constraints_name_the_field(d, field, word):
    with pytest.raises(InputError) as e:
        spec = parse_factory(d)
        Engine(spec, small(), make_comm(spec))
    assert field in str(e.value) and word in str(e.value), str(e.value)


@pytest.mark.parametrize("k", [0, 8])  # one caught reading the file, one against the fabric
def test_bad_input_exits_2_without_traceback_or_output(tmp_path, k):
    d, field, _ = BAD[k]
    d = json.loads(json.dumps(dict(d, fabric=str(EXAMPLES / "rail-optimized-256.yaml"))))
    if k == 8:
        d["workloads"]["ft"]["training"].update(parallelism={"dp": 64}, global_batch=64)  # rack-1 holds 32 GPUs
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(d))
    r = run_cli("factory", "run", path, "-o", tmp_path / "out")
    assert r.returncode == 2, r.stdout + r.stderr
    assert field in r.stderr and "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "out").exists()
