"""Nothing a user types or a file holds crashes, hangs or floods tokenfab; no output step loses data.

One place reads files (fileio), one checks numbers (numbers + the StrictModel base), one writes
folders (outputs); fabric.json is checked on load; doctor finds what killed runs left."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.fuzzkit import BOMB, FACTORY, INTENT, SWEEP
from tokenfab import InputError, load_intent
from tokenfab.cli import app
from tokenfab.design.model import Fabric
from tokenfab.factory.spec import load_factory
from tokenfab.fileio import MAX_DEPTH, MAX_INT_DIGITS, load_json, load_yaml
from tokenfab.outputs import MARKER, clean_stale, output_dir
from tokenfab.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "intent.yaml").write_text(yaml.safe_dump(INTENT))
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(FACTORY))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    return tmp_path


LOADERS = {"intent": ("intent.yaml", load_intent), "factory": ("f.yaml", load_factory), "sweep": ("s.yaml", load_sweep)}
SPOILED = [
    (lambda t: t.replace("fz", "fé").encode("latin-1"), "not UTF-8 text (byte 0xe9 at line"),
    (lambda t: (t + "extra: " + "[" * 200 + "]" * 200 + "\n").encode(), "nest"),
    (lambda t: (t + "extra:\n" + "".join(" " * i + "- \n" for i in range(100))).encode(), f"nested more than {MAX_DEPTH}"),
    (lambda t: t.replace("name: fz", "name: " + "9" * 4301).encode(), f"at most {MAX_INT_DIGITS} are accepted"),
    (lambda t: (t + t.splitlines()[0] + "\n").encode(), "duplicate key"),
    (lambda t: (BOMB + t + "extra: *h\n").encode(), "alias"),
    (lambda t: b"\xff\xfe" + t.encode("utf-16-le"), "not UTF-8"),
]


@pytest.mark.parametrize("kind", list(LOADERS))
@pytest.mark.parametrize("spoil, needle", SPOILED)
def test_every_file_is_read_through_the_guarded_reader(inputs, kind, spoil, needle):
    name, load = LOADERS[kind]
    path = inputs / name
    path.write_bytes(spoil(path.read_text()))
    t0 = time.perf_counter()
    with pytest.raises(InputError) as e:
        load(path)
    message = str(e.value)
    assert needle in message and str(path) in message
    assert "\n" not in message and len(message) < 600
    assert time.perf_counter() - t0 < 5  # the bomb is refused, not expanded


def test_json_refuses_nan_duplicate_keys_huge_ints_and_depth(tmp_path):
    p = tmp_path / "x.json"
    for text, needle in [
        ('{"a": NaN}', "NaN is not a number"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": ' + "9" * 5000 + "}", "digits"),
        ("[" * 10_000 + "]" * 10_000, "nested"),
        ('{"a": [1, 2,]}', "line 1 column"),
    ]:
        p.write_text(text)
        with pytest.raises(InputError, match=needle):
            load_json(p)
    assert load_yaml(ROOT / "examples" / "rail-only-128.yaml")["cluster"]


def test_cli_errors_for_spoiled_files_are_one_line_exit_2(inputs):
    (inputs / "bomb.yaml").write_text(BOMB + "cluster: *h\n")
    r = cli("plan", inputs / "bomb.yaml", "-o", inputs / "out")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and len(r.stderr) < 400 and "alias" in r.stderr
    assert not (inputs / "out").exists()


@pytest.mark.parametrize(
    "section, value, needle",
    [
        ({"cluster": {"servers": True}}, None, "cluster.servers: expected a number, got a boolean"),
        ({"prices_usd": {"H100": True}}, None, "prices_usd: expected a number, got a boolean"),
        ({"racks": {"power_budget_kw": float("nan")}}, None, "racks.power_budget_kw: Input should be a finite number"),
        ({"racks": {"rack_units": float("inf")}}, None, "racks.rack_units"),
    ],
)
def test_numbers_in_intents_are_finite_and_never_booleans(section, value, needle):
    from tokenfab import parse_intent

    data = {"cluster": {"servers": 4, "gpus_per_server": 4}}
    for k, v in section.items():
        data[k] = {**data.get(k, {}), **v}
    with pytest.raises(InputError, match=needle):
        parse_intent(data)


def test_factory_and_sweep_refuse_booleans_for_numbers(inputs):
    f = dict(FACTORY, window_h=True)
    (inputs / "f.yaml").write_text(yaml.safe_dump(f))
    with pytest.raises(InputError, match="window_h: expected a number, got a boolean"):
        load_factory(inputs / "f.yaml")
    s = dict(SWEEP, axes=[{"path": "cluster.servers", "values": [4, True]}])
    (inputs / "s.yaml").write_text(yaml.safe_dump(s))
    with pytest.raises(InputError, match=r"axes\.0 \(cluster.servers\)=True.*boolean"):
        load_sweep(inputs / "s.yaml")


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--latency", "nan"), "--latency: expected an added latency, finite"),
        (("--jitter", "inf"), "--jitter"),
        (("-b", "1e300G"), "-b: '1e300G' is out of range"),
        (("--qps", "100000"), "--qps: expected a number (accepted: [1, 256]), got 100000"),
        (("--seeds", "1000000"), "--seeds"),
        (("--channels", "100000"), "--channels"),
        (("--efficiency", "nan"), "--efficiency"),
        (("--degrade", "spine-1=nan"), "--degrade spine-1"),
        (("-b", "1", "-e", "1G", "-f", "1", "-i", "1"), "more than 1,000 sizes"),
    ],
)
def test_simulate_options_are_checked_where_they_enter(inputs, args, needle):
    t0 = time.perf_counter()
    r = cli("simulate", inputs / "intent.yaml", *args)
    assert r.exit_code == 2 and needle in r.stderr, r.stderr
    assert time.perf_counter() - t0 < 30  # never the solver looping on NaN


def test_the_engine_never_loops_on_nan():
    import scipy.sparse as sp

    from tokenfab.sim import engine

    A = sp.csr_matrix(np.ones((2, 1)))
    with pytest.raises(ValueError, match="NaN"):
        engine.MaxMin(A, np.array([np.nan])).solve()
    with pytest.raises(ValueError, match="size must be finite"):
        engine.run(A, np.array([1.0]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="stall_per_byte must be finite"):
        engine.run(A, np.array([1.0]), np.array([1.0, 1.0]), stall_per_byte=np.array([np.nan, 0.0]))
    assert engine.max_min_rates(A, np.array([2.0])).tolist() == [1.0, 1.0]


def test_work_is_bounded_before_it_starts(inputs):
    f = dict(FACTORY, request_bin_s=1e-6, services=[{"name": "s"}])
    (inputs / "f.yaml").write_text(yaml.safe_dump(f))
    r = cli("factory", "run", inputs / "f.yaml", "-o", inputs / "out")
    assert r.exit_code == 2 and "request_bin_s" in r.stderr or "services.0" in r.stderr, r.stderr
    from tokenfab.factory.bounds import check_job_counts, check_work
    from tokenfab.factory.spec import parse_factory

    with pytest.raises(InputError, match=r"jobs.0.count: .*at most 10,000"):
        check_job_counts({"jobs": [{"count": 10**12}]})
    spec = parse_factory(dict(FACTORY, fabric="x"))
    from tokenfab.factory.bounds import check_failures

    with pytest.raises(InputError, match=r"failures: .* is 3.16e\+296 interruptions .* at most 10,000"):
        check_failures(spec.model_copy(update={"failures": spec.failures.model_copy(update={"scale": 1e300})}), 16)
    with pytest.raises(InputError, match=r"tick_min: .* at most 1,000,000 \(raise tick_min"):
        check_work(spec.model_copy(update={"tick_min": 1e-5}))
    big = dict(
        SWEEP,
        axes=[
            {"path": "fabric.leaf.oversubscription", "values": [1, 2] * 200},
            {"path": "racks.power_budget_kw", "values": list(range(20, 420))},
        ],
    )
    (inputs / "s.yaml").write_text(yaml.safe_dump(big))
    t0 = time.perf_counter()
    r = cli("sweep", inputs / "s.yaml", "-o", inputs / "sout")
    assert r.exit_code == 2 and "400 x 400 = 160,000 points; at most 10,000" in r.stderr, r.stderr
    assert time.perf_counter() - t0 < 10 and not (inputs / "sout").exists()


def test_late_checks_come_first(inputs):
    (inputs / "s.yaml").write_text(
        yaml.safe_dump(dict(SWEEP, objectives=[{"metric": "speed", "goal": "max"}, {"metric": "cost_usd", "goal": "min"}]))
    )
    r = cli("sweep", inputs / "s.yaml", "-o", inputs / "sout")
    assert r.exit_code == 2 and "objectives.0.metric: unknown metric 'speed'" in r.stderr and "known:" in r.stderr
    (inputs / "file").write_text("x")
    t0 = time.perf_counter()
    r = cli("factory", "run", inputs / "f.yaml", "-o", inputs / "file" / "out")
    assert r.exit_code == 2 and "is a file, not a folder" in r.stderr
    assert "simulating" not in r.stdout
    r = cli("sweep", SWEEP_PATH(inputs), "-o", inputs / "sout", "--ray", "127.0.0.1:1")
    assert r.exit_code == 2 and "no Ray cluster answers there within 5 s" in r.stderr
    assert time.perf_counter() - t0 < 30


def SWEEP_PATH(d: Path) -> Path:
    (d / "ok.yaml").write_text(yaml.safe_dump(SWEEP))
    return d / "ok.yaml"


def test_output_folders_refuse_what_they_must_not_touch(inputs, monkeypatch):
    out = inputs / "plan"
    assert cli("plan", inputs / "intent.yaml", "-o", out).exit_code == 0
    assert (out / MARKER).is_file()
    assert cli("plan", inputs / "intent.yaml", "-o", out, "--force").exit_code == 0
    foreign = inputs / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_text("meow")
    for target, needle in [
        (foreign, "holds files tokenfab did not write"),
        (Path("."), "the current folder"),
        (inputs / "intent.yaml" / "x", "is a file, not a folder"),
        (Path("/proc/tokenfab-out"), "cannot write in /proc"),
        (out, "exists; pass --force"),
    ]:
        monkeypatch.chdir(inputs)
        r = cli("plan", inputs / "intent.yaml", "-o", target, *(["--force"] if target != out else []))
        assert r.exit_code == 2 and needle in r.stderr, (target, r.stderr)
    assert (foreign / "cat.jpg").read_text() == "meow"
    empty = inputs / "empty"
    empty.mkdir()
    assert cli("plan", inputs / "intent.yaml", "-o", empty).exit_code == 0  # an empty folder is free to use


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o002, 0o775)])
def test_output_folders_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with output_dir(tmp_path / "o") as tmp:
            (tmp / "a").mkdir()
    finally:
        os.umask(old)
    assert (tmp_path / "o").stat().st_mode & 0o777 == mode
    assert (tmp_path / "o" / "a").stat().st_mode & 0o777 == mode


def test_a_killed_replace_is_recovered_by_the_next_run(tmp_path):
    target = tmp_path / "o"
    with output_dir(target) as tmp:
        (tmp / "v").write_text("1")
    dead = 2**22 + 12345  # above pid_max's default: no such process
    assert not _exists(dead)
    # a kill between the two renames: the previous version set aside, the target missing
    target.rename(tmp_path / f".o.old-{dead}-0123abcd")
    (tmp_path / f".o.tmp-{dead}-0123abcd").mkdir()  # and its unfinished new version
    live = tmp_path / f".o.tmp-{os.getpid()}-0123abcd"
    live.mkdir()  # a run still going on: not touched
    with output_dir(target, force=True) as tmp:
        assert (target / "v").read_text() == "1"  # put back before the new run starts
        (tmp / "v").write_text("2")
    assert (target / "v").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "o"]


def test_the_two_rename_replace_undoes_itself_on_error(tmp_path, monkeypatch):
    from tokenfab import outputs

    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    target = tmp_path / "o"
    for version in ("1", "2"):
        with output_dir(target, force=True) as tmp:
            (tmp / "v").write_text(version)
    assert (target / "v").read_text() == "2"
    real = Path.rename

    def failing(self, dst):
        if self.name.startswith(".o.tmp-"):
            raise OSError(28, "No space left on device")
        return real(self, dst)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(InputError, match="No space left"):
        with output_dir(target, force=True) as tmp:
            (tmp / "v").write_text("3")
    assert (target / "v").read_text() == "2" and sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_edited_fabric_json_is_refused_by_field(inputs):
    assert cli("plan", inputs / "intent.yaml", "-o", inputs / "p").exit_code == 0
    obj = json.loads((inputs / "p" / "fabric.json").read_text())
    cases = [
        (lambda o: o.__setitem__("design", None), "design: expected object, got None"),
        (lambda o: o["design"].pop("gpus"), "design: gpus: required field is missing"),
        (lambda o: o["links"]["rows"][0].__setitem__(5, "fast"), "links.rows.0.speed_gbps: expected an integer"),
        (lambda o: o["links"]["rows"][1].pop(), "links.rows.1: 11 values for 12 columns"),
        (lambda o: o["devices"]["rows"][2].__setitem__(10, 10**30), "devices.rows.2.asn: expected an integer from 0 to"),
        (lambda o: o["links"]["rows"][3].__setitem__(10, "long"), "links.rows.3.length_m: expected a number"),
        (lambda o: o["links"]["rows"][2].__setitem__(7, "NaN"), "links.rows.2.a_ip: expected an IPv4 address or empty"),
        (lambda o: o["subnets"]["rows"][0].__setitem__(3, "10.0.0.0/99"), "subnets.rows.0.prefix: expected an IPv4"),
        (lambda o: o["links"]["rows"][0].__setitem__(1, "ghost"), "links.rows.0.a: names unknown device 'ghost'"),
        (lambda o: o["expectations"].__setitem__("bgp_sessions", -3), "expectations: bgp_sessions"),
        (lambda o: o["intent"]["cluster"].__setitem__("servers", "many"), "intent.cluster.servers"),
    ]
    for edit, needle in cases:
        o = json.loads(json.dumps(obj))
        edit(o)
        (inputs / "p" / "fabric.json").write_text(json.dumps(o))
        with pytest.raises(InputError) as e:
            Fabric.load(inputs / "p")
        assert needle in str(e.value), str(e.value)
        r = cli("simulate", inputs / "p", "-b", "1M", "-e", "1M")
        assert r.exit_code == 2 and needle in r.stderr


def test_doctor_reports_and_cleans_only_what_is_stale(tmp_path):
    dead = 2**22 + 54321
    folder = tmp_path / "runs"
    (folder / f".plan.tmp-{dead}-0123abcd").mkdir(parents=True)
    (folder / f".plan.tmp-{dead}-0123abcd" / "fabric.json").write_text("{}")
    (folder / f".cfg.old-{dead}-0123abcd").mkdir()
    (folder / f".live.tmp-{os.getpid()}-0123abcd").mkdir()
    (folder / ".hidden.tmp-keep").mkdir()  # not a name tokenfab writes
    state = tmp_path / "twins"
    (state / "demo").mkdir(parents=True)
    (state / "demo" / "ledger").write_text("netns tf-demo-leaf-1-nonexistent\n")
    (state / "notatwin").mkdir()
    r = cli("doctor", folder, "--state-dir", state)
    assert r.exit_code == 1 and "unfinished output of plan" in r.stdout and "demo" in r.stdout
    assert (folder / f".plan.tmp-{dead}-0123abcd").exists()  # reported, not removed
    r = cli("doctor", folder, "--state-dir", state, "--clean")
    assert r.exit_code == 0 and f"[restored as {folder / 'cfg'}]" in r.stdout and "[removed]" in r.stdout
    assert sorted(p.name for p in folder.iterdir()) == [".hidden.tmp-keep", f".live.tmp-{os.getpid()}-0123abcd", "cfg"]
    assert sorted(p.name for p in state.iterdir()) == ["notatwin"]
    r = cli("doctor", folder, "--state-dir", state)
    assert r.exit_code == 0 and "nothing left over" in r.stdout
    assert clean_stale(folder) == []


def test_other_options_are_checked_before_work(inputs, tmp_path):
    (inputs / "file").write_text("x")
    r = cli("simulate", inputs / "intent.yaml", "--plot", inputs / "file" / "load.svg")
    assert r.exit_code == 2 and "--plot" in r.stderr and "is a file, not a folder" in r.stderr
    r = cli("twin", "up", inputs, "--timeout", "nan", "--state-dir", tmp_path / "twins")
    assert r.exit_code == 2 and "--timeout: expected seconds to wait, finite" in r.stderr
    assert not (tmp_path / "twins").exists()
    r = cli("sweep", SWEEP_PATH(inputs), "-j", "100000")
    assert r.exit_code == 2 and "--jobs" in r.stderr
