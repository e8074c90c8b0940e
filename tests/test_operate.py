"""operate: telemetry schema, ingest of messy data, the simulated source, detectors, priced actions, CLI."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tokenfab import load_intent, plan
from tokenfab.operate import detect
from tokenfab.operate.counters import COUNTERS, GAUGES, METRICS
from tokenfab.operate.loads import job_patterns
from tokenfab.operate.scenario import Event, draw_events, generate, random_jobs
from tokenfab.operate.telemetry import Ports, Telemetry, ingest

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


@pytest.fixture(scope="module")
def fabric():
    return plan(load_intent(EX / "rail-optimized-256-su16.yaml"))


@pytest.fixture(scope="module")
def scenario(fabric):
    rng = np.random.default_rng(11)
    jobs = random_jobs(fabric, rng, 24)
    pat = job_patterns(fabric, jobs)
    events = draw_events(fabric, rng, 24, patterns=pat)
    return generate(fabric, jobs, events, hours=24, seed=11, patterns=pat)


def test_schema_names_sonic_and_openconfig():
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names)) and set(COUNTERS) | set(GAUGES) == set(names)
    for m in METRICS:
        assert m.sonic.split()[0] in ("COUNTERS_DB", "STATE_DB", "APPL_DB", "FRR"), m
        assert m.openconfig == "" or m.openconfig.startswith("/"), m
    sonic = {m.name: m.sonic for m in METRICS}
    assert sonic["fec_corrected_codewords"].endswith("SAI_PORT_STAT_IF_IN_FEC_CORRECTABLE_FRAMES")
    assert sonic["pfcwd_deadlock_detected"].endswith("PFC_WD_QUEUE_STATS_DEADLOCK_DETECTED")
    assert sonic["dom_temperature_c"] == "STATE_DB TRANSCEIVER_DOM_SENSOR|<port> temperature"


def test_ports_are_every_switch_port(fabric):
    ports = Ports.of(fabric)
    kinds = np.asarray(fabric.links["kind"])
    assert len(ports) == 2 * int((kinds != "nic").sum()) + int((kinds == "nic").sum())
    assert not any(str(d).startswith("srv-") for d in ports.device)
    assert len(set(ports.key.tolist())) == len(ports)


def _rows(times, device, port, **cols):
    return pa.table(
        {
            "time_s": pa.array(times, pa.float64()),
            "device": device,
            "port": port,
            **{k: pa.array(v, pa.uint64() if k in COUNTERS else pa.float64()) for k, v in cols.items()},
        }
    )


def test_ingest_messy_rows_warns_and_corrects_rates(fabric):
    ports = Ports.of(fabric)
    d, p = str(ports.device[0]), str(ports.port[0])
    top64, top32 = 2**64 - 1000, 2**32 - 100
    # in file order: out of order, a duplicate, an unknown device, a reset at 240 s, a 64-bit wrap at 300 s
    t = [0, 120, 60, 120, 180, 240, 300, 0]
    dev = [d, d, d, d, d, d, d, "leaf-r99-9"]
    prt = [p] * 7 + ["Ethernet0"]
    octets = [1000, 13000, 7000, 13000, 19000, 500, 6500, 1]
    fec = [top64 - 6000, top64 - 3000, top64 - 4500, top64 - 3000, top64 - 1500, top64 - 1200, 2000, 5]
    crc = [top32 - 300, top32 - 200, top32 - 250, top32 - 200, top32 - 150, top32 - 120, 50, 0]
    tel = ingest(_rows(t, dev, prt, in_octets=octets, fec_corrected_codewords=fec, crc_errors=crc), ports)
    text = " | ".join(tel.warnings)
    assert "unknown devices" in text and "leaf-r99-9" in text
    assert "out of order" in text and "duplicate" in text
    assert "reset" in text and "wrapped" in text and ports.name(0) in text
    assert "missing samples" in text  # every other port never reported
    assert list(tel.t_s) == [0, 60, 120, 180, 240, 300]
    r = tel.rate("in_octets")[:, 0]
    assert np.isnan(r[0]) and r[1:4].tolist() == [100.0, 100.0, 100.0]
    assert r[4] == 500 / 60  # reset: what accumulated since
    assert r[5] == 100.0
    f = tel.rate("fec_corrected_codewords")[:, 0]
    assert f[1:5].tolist() == [25.0, 25.0, 25.0, 5.0] and f[5] == (1200 + 1000 + 2000) / 60  # 64-bit wrap
    c = tel.rate("crc_errors")[:, 0]
    assert c[5] == (120 + 100 + 50) / 60  # 32-bit wrap
    assert np.isnan(tel.rate("in_octets")[:, 1]).all()  # a silent port has no rate
    # the detectors run on it without raising
    assert detect.detect_all(tel) == []


def test_ingest_refuses_rows_without_identity(fabric):
    from tokenfab.errors import InputError

    with pytest.raises(InputError, match="column 'device' missing"):
        ingest(pa.table({"time_s": [0.0], "port": ["Ethernet0"]}), Ports.of(fabric))


def test_detectors_survive_gaps_nan_and_tiny_inputs(scenario):
    tel = scenario.telemetry
    rng = np.random.default_rng(0)
    holes = Telemetry(
        tel.ports,
        tel.t_s,
        {k: v.copy() for k, v in tel.values.items()},
        {k: rng.uniform(size=v.shape) > 0.2 for k, v in tel.values.items() if k in COUNTERS},
    )
    for g in GAUGES:
        holes.values[g][rng.uniform(size=holes.values[g].shape) < 0.2] = np.nan
    found = detect.detect_all(holes, scenario.job_links)
    assert all(f.kind in ("failing-link", "pfc-storm", "hot-spot", "bgp-flap") for f in found)
    for k in (1, 2, 5):
        assert isinstance(detect.detect_all(tel.window(0, tel.t_s[k - 1])), list)


def test_generated_counters_follow_the_loads(scenario):
    tel = scenario.telemetry
    gbps = tel.rate("out_octets") * 8 / 1e9
    assert np.nanmax(gbps / tel.ports.speed_gbps) <= 1.1
    assert (np.nanmean(gbps, axis=0) > 1).sum() > 50  # the jobs' links carry traffic
    assert np.all(np.diff(tel.values["in_octets"].astype(np.float64), axis=0) >= 0)  # counters only grow


def test_every_injected_degradation_is_found(scenario):
    found = detect.detect_all(scenario.telemetry, scenario.job_links)
    assert {e.kind for e in scenario.truth} == {"aging", "flap", "bgp-flap", "pfc-storm", "hot-spot"}
    for ev in scenario.truth:
        kind = detect.KIND_OF_EVENT[ev.kind]
        hits = [f for f in found if f.kind == kind and f.link == ev.link]
        assert hits, (ev, [(f.kind, f.link) for f in found])
        f = hits[0]
        if ev.kind == "aging":
            assert ev.at_s - f.t_s >= 2 * 3600, "flagged hours ahead"
            assert abs(f.predicted_fail_s - ev.at_s) < 6 * 3600
            assert f.evidence["peer_temperature_change_c"] > 0.3  # the fading optic runs warmer
        if ev.kind == "pfc-storm":
            assert f.port == ev.origin and ev.at_s <= f.t_s <= ev.at_s + 300
            assert set(ev.jobs) <= set(f.jobs)
        if ev.kind == "hot-spot":
            assert set(f.jobs) == set(ev.jobs) and f.t_s - ev.at_s <= 35 * 60
    # and nothing else on this clean background
    kinds = {(detect.KIND_OF_EVENT[e.kind], e.link) for e in scenario.truth}
    assert [(f.kind, f.link) for f in found if (f.kind, f.link) not in kinds] == []


def test_same_seed_same_bytes(fabric, tmp_path):
    rng = np.random.default_rng(5)
    jobs = random_jobs(fabric, rng, 2)
    ev = [
        Event("hot-spot", fabric.link(int(np.flatnonzero(np.asarray(fabric.links["kind"]) != "nic")[0])).id, 1800.0, end_s=5400.0)
    ]
    a = generate(fabric, jobs, ev, hours=2, seed=5)
    b = generate(fabric, jobs, ev, hours=2, seed=5)
    a.telemetry.write_parquet(tmp_path / "a.parquet")
    b.telemetry.write_parquet(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    from tokenfab.operate.telemetry import read_parquet

    back = read_parquet(tmp_path / "a.parquet", Ports.of(fabric))
    assert back.warnings == []
    for k, v in a.telemetry.values.items():
        np.testing.assert_array_equal(back.values[k], v)


def test_prometheus_exposition_names_and_labels(scenario):
    from prometheus_client.parser import text_string_to_metric_families

    from tokenfab.operate.prom import exposition

    tel, k = scenario.telemetry, 10
    fams = {f.name: f for f in text_string_to_metric_families(exposition(tel, k).decode())}
    octets = fams["tokenfab_port_in_octets"]
    assert octets.type == "counter" and "SAI_PORT_STAT_IF_IN_OCTETS" in octets.documentation
    p = tel.ports
    got = {(s.labels["device"], s.labels["port"]): s.value for s in octets.samples if s.name.endswith("_total")}
    assert len(got) == len(p)
    assert got[(p.device[0], p.port[0])] == float(tel.values["in_octets"][k, 0])
    ber = fams["tokenfab_port_pre_fec_ber"]
    assert ber.type == "gauge" and len(ber.samples) == int(np.isfinite(tel.values["pre_fec_ber"][k]).sum())
    assert fams["tokenfab_sample_time_seconds"].samples[0].value == tel.t_s[k]
    rows = [{"device": "leaf-r1-1", "routes": 40, "bgp_routes": 36, "max_ecmp": 2, "min_ecmp": 1}]
    fams = {f.name: f for f in text_string_to_metric_families(exposition(tel, k, rows).decode())}
    assert fams["tokenfab_device_max_ecmp"].samples[0].labels == {"device": "leaf-r1-1"}
    assert fams["tokenfab_device_bgp_routes"].samples[0].value == 36


def test_history_in_duckdb_over_parquet(scenario, tmp_path):
    from tokenfab.operate import store

    tel = scenario.telemetry
    store.append(tmp_path / "hist", tel.window(0, 3600).to_arrow(), "h00")
    store.append(tmp_path / "hist", tel.window(3660, 7200).to_arrow(), "h01")
    con = store.connect(tmp_path / "hist")
    n, ports = con.execute("SELECT count(*), count(DISTINCT device || ':' || port) FROM telemetry").fetchone()
    assert n == 121 * len(tel.ports) and ports == len(tel.ports)


def test_demo_finding_priced_end_to_end():
    """The operate demo: an optic aging on a spine uplink the 70B run uses is flagged hours ahead;
    draining it costs (almost) nothing, doing nothing costs the run's restart."""
    from tokenfab.clikit import load_plan_or_intent
    from tokenfab.factory.spec import load_factory
    from tokenfab.operate.advise import Pricer, advise
    from tokenfab.operate.factory_source import simulate_factory

    spec, _ = load_factory(EX / "operate-demo.yaml")
    fab = load_plan_or_intent(EX / "rail-optimized-256-su16.yaml")
    sc, run = simulate_factory(spec, fab)
    (ev,) = sc.truth
    assert ev.kind == "aging" and "spine" in ev.link and ev.jobs == ("pretrain-70b",)
    found = detect.detect_all(sc.telemetry, sc.job_links)
    assert [(f.kind, f.link) for f in found] == [("failing-link", ev.link)]
    f = found[0]
    assert ev.at_s - f.t_s > 4 * 3600 and f.jobs == ["pretrain-70b"]
    (a,) = advise(found, Pricer(spec, fab, sc.job_links, until_h=f.t_s / 3600 + 24))
    acts = {p.action: p for p in a.actions}
    nothing, drain = acts["do nothing"], acts["drain and replace"]
    assert a.best == "drain and replace" and drain.lost_tokens < nothing.lost_tokens
    assert nothing.interruptions == ["pretrain-70b"]
    job = next(j for j in run.jobs if j.name == "pretrain-70b")
    expect_h = job.gpus * (job.ckpt.interval_s / 2 + 600 + job.ckpt.write_s) / 3600
    assert nothing.lost_gpu_h == pytest.approx(expect_h, rel=0.02)
    assert nothing.lost_usd > 0 and nothing.lost_tokens > 1e8
    # the report page shows the finding, its priced actions and the plot of its signals
    from tokenfab.operate.page import render

    html = render(sc.telemetry, found, [a], [ev.as_dict()], title="demo")
    assert "drain and replace (best)" in html and f"{nothing.lost_tokens:,.0f}" in html
    assert html.count("<svg") == 1 and "pre-FEC BER" in html
    assert render(sc.telemetry, found, [a], [ev.as_dict()], title="demo") == html  # deterministic


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "operate", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_cli_simulate_detect_report_and_bad_input(tmp_path):
    out = tmp_path / "op"
    r = _cli("simulate", EX / "operate-demo.yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == {
        "fabric.json",
        "telemetry.parquet",
        "truth.json",
        "jobs.json",
        "source.json",
        ".tokenfab-output",
    }
    r = _cli("detect", out, "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    found = json.loads(r.stdout)
    truth = json.loads((out / "truth.json").read_text())
    assert [f["link"] for f in found] == [truth[0]["link"]]
    r = _cli("report", out, "--no-advice")
    assert r.returncode == 0, r.stderr
    page = (out / "report.html").read_text()
    assert "<svg" in page and truth[0]["link"] in page
    # bad input: one line, exit 2, nothing written
    r = _cli("simulate", EX / "operate-demo.yaml", "-o", out)
    assert r.returncode == 2 and "exists" in r.stderr and "Traceback" not in r.stderr
    r = _cli("simulate", EX / "operate-demo.yaml", "-o", tmp_path / "x", "--inject", "sometimes")
    assert r.returncode == 2 and "--inject" in r.stderr and not (tmp_path / "x").exists()
    r = _cli("detect", tmp_path / "nowhere")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "fabric.json").write_text((out / "fabric.json").read_text())
    (tmp_path / "bad" / "telemetry.parquet").write_text("not parquet")
    r = _cli("detect", tmp_path / "bad")
    assert r.returncode == 2 and "Parquet" in r.stderr and "Traceback" not in r.stderr


def test_cli_watch_replays_and_serves_metrics(tmp_path):
    r = _cli(
        "watch",
        EX / "operate-demo.yaml",
        "--samples",
        "600",
        "--every",
        "60",
        "--prometheus",
        "0",
        "--history",
        tmp_path / "hist",
    )
    assert r.returncode == 0, r.stderr
    from tokenfab.operate import store

    assert len(list((tmp_path / "hist").glob("*.parquet"))) == 10
    assert store.connect(tmp_path / "hist").execute("SELECT count(DISTINCT time_s) FROM telemetry").fetchone()[0] == 600
    assert "serving http://127.0.0.1:" in r.stdout
    assert "failing-link" in r.stdout and "leaf-r1-2:Ethernet496--spine-2:Ethernet144" in r.stdout.replace("\n", "")
    r = _cli("watch")
    assert r.returncode == 2 and "--twin" in r.stderr


def test_every_finding_kind_gets_priced_actions(scenario, fabric):
    """Storms, hot spots and flaps too: each action priced by a factory run on the same fabric."""
    from tokenfab.factory.spec import parse_factory
    from tokenfab.operate.advise import Pricer, advise

    spec = parse_factory(
        {
            "name": "ops",
            "fabric": "x",
            "window_h": 24,
            "tenants": [{"name": "a"}],
            "workloads": {
                "t": {
                    "training": {"model": "llama3-8b", "seq_len": 4096, "global_batch": 128, "parallelism": {"tp": 1, "dp": 64}}
                }
            },
            "jobs": [{"name": "job-1", "tenant": "a", "workload": "t", "arrive_h": 0}],
        },
        "test",
    )
    found = detect.detect_all(scenario.telemetry, scenario.job_links)
    advice = advise(found, Pricer(spec, fabric, scenario.job_links, until_h=48))
    kinds = {a.finding.kind: a for a in advice}
    assert set(kinds) == {"failing-link", "pfc-storm", "hot-spot", "bgp-flap"}
    for a in advice:
        assert "do nothing" in [p.action for p in a.actions] and len(a.actions) >= 2
        assert a.best in [p.action for p in a.actions]
        assert all(p.lost_gpu_h >= -1e-6 or p.action.startswith("routing") for p in a.actions)
    assert {p.action for p in kinds["hot-spot"].actions} >= {"routing adaptive", "routing spray"}


@pytest.fixture(scope="module")
def small_ports():
    return Ports.of(plan(load_intent(EX / "rail-only-128.yaml")))


def test_ingest_and_detectors_never_crash_on_random_rows(small_ports):
    """Any rows - times in any order or repeated, unknown names, counters jumping anywhere, NaN
    gauges, nulls - are ingested with warnings, and every detector runs over the result."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    names = [(str(d), str(p)) for d, p in zip(small_ports.device[:6], small_ports.port[:6])] + [("ghost-1", "Ethernet0")]
    row = st.tuples(
        st.integers(0, 30),
        st.sampled_from(names),
        st.one_of(st.none(), st.integers(0, 2**64 - 1)),
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False, width=64)),
    )

    @settings(max_examples=40, deadline=None)
    @given(st.lists(row, min_size=0, max_size=60))
    def check(rows):
        tbl = pa.table(
            {
                "time_s": pa.array([60.0 * r[0] for r in rows], pa.float64()),
                "device": pa.array([r[1][0] for r in rows], pa.string()),
                "port": pa.array([r[1][1] for r in rows], pa.string()),
                "fec_corrected_codewords": pa.array([r[2] for r in rows], pa.uint64()),
                "pfc3_rx_pkts": pa.array([r[2] for r in rows], pa.uint64()),
                "pre_fec_ber": pa.array([r[3] for r in rows], pa.float64()),
            }
        )
        tel = ingest(tbl, small_ports)
        assert len(tel.t_s) == len({r[0] for r in rows if r[1][0] != "ghost-1"})
        if any(r[1][0] == "ghost-1" for r in rows):
            assert any("ghost-1" in w for w in tel.warnings)
        for f in detect.detect_all(tel):
            assert f.kind in ("failing-link", "pfc-storm", "hot-spot", "bgp-flap")

    check()


def test_cli_schema_prints_every_column_with_its_paths():
    r = _cli("schema", "--json")
    assert r.returncode == 0
    assert [x["name"] for x in json.loads(r.stdout)] == [m.name for m in METRICS]
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "operate", "schema"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "COLUMNS": "250"},
    )
    assert "/interfaces/interface[name=<port>]/state/counters/in-octets" in r.stdout
