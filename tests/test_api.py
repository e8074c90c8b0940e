"""The Python API: one function per CLI verb, exported from `tokenfab`, giving what the CLI gives."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tokenfab
from tests.conftest import make

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
VERBS = ("plan", "configure", "validate", "simulate", "run_factory", "sweep")


def test_every_verb_is_a_function_of_the_package():
    for verb in VERBS:
        assert verb in tokenfab.__all__ and callable(getattr(tokenfab, verb)), verb
        assert getattr(tokenfab, verb).__doc__.startswith("`tokenfab "), verb
    with pytest.raises(AttributeError):
        tokenfab.no_such_verb  # noqa: B018


def test_importing_the_package_stays_light():
    code = "import sys, tokenfab, tokenfab.cli; print(sorted(m for m in ('numpy', 'scipy', 'pydantic', 'matplotlib') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


def test_plan_configure_validate_simulate_from_python(tmp_path):
    out = tmp_path / "plan"
    fabric = tokenfab.plan(make(name="api-test", cluster={"servers": 8, "gpus_per_server": 4}), out=out)
    assert (out / "fabric.json").read_text() == fabric.dumps()
    written = tokenfab.configure(out)  # a plan folder: the configs join it
    assert "configs/leaf-1/config_db.json" in written and (out / "bom.csv").is_file()
    report = tokenfab.validate(out, check_frr=False)
    assert report.ok and report.switches == fabric.design.leaves
    result = tokenfab.simulate(out, "all_reduce", sizes=[1 << 20, 1 << 26], seeds=2)
    assert [line.first.size_bytes for line in result.lines] == [1 << 20, 1 << 26]
    assert len(result.lines[0].results) == 2 and result.gpus == list(range(32))
    assert 0 < result.lines[0].first.busbw_GBps < result.lines[1].first.busbw_GBps


def test_a_bad_intent_raises_input_error_naming_the_field(tmp_path):
    with pytest.raises(tokenfab.InputError, match="cluster.servers"):
        tokenfab.plan({"cluster": {"servers": 0}})


def test_sweep_and_factory_match_the_cli(tmp_path):
    rows = tokenfab.sweep(EXAMPLES / "sweep-leaf-choices.yaml", out=tmp_path / "sweep")
    csv = (tmp_path / "sweep" / "results.csv").read_text()
    assert rows and any(r["pareto"] for r in rows) and csv.count("\n") == len(rows) + 1
    spec = tmp_path / "f.yaml"
    spec.write_text(
        json.dumps(
            {
                "name": "api",
                "fabric": str(EXAMPLES / "rail-optimized-256.yaml"),
                "window_h": 1,
                "network": {"model": "analytical"},
                "jobs": [
                    {
                        "name": "j",
                        "training": {
                            "model": "llama3-8b",
                            "seq_len": 4096,
                            "global_batch": 64,
                            "parallelism": {"tp": 4, "dp": 8},
                        },
                    }
                ],
            }
        )
    )
    runs = tokenfab.run_factory(spec, out=tmp_path / "factory")
    ((run, summary),) = runs
    assert (tmp_path / "factory").is_dir() and summary["jobs"][0]["name"] == "j"


def test_verbs_keep_their_names_when_the_subpackages_of_the_same_name_load():
    import tokenfab.configure.bundle  # noqa: F401
    import tokenfab.sweep.runner  # noqa: F401
    from tokenfab.configure import bundle

    assert tokenfab.configure.__doc__.startswith("`tokenfab configure`") and callable(bundle.write)
    assert tokenfab.sweep.__doc__.startswith("`tokenfab sweep`")


def _factory_file(path: Path, **extra) -> Path:
    from tests.test_sweep import FACTORY

    path.write_text(json.dumps({**FACTORY, "fabric": "intent.yaml", "window_h": 2, **extra}))
    (path.parent / "intent.yaml").write_text(json.dumps({"name": "mini", "cluster": {"servers": 8, "gpus_per_server": 4}}))
    return path


def test_run_factory_checks_everything_before_it_simulates(tmp_path):
    """The output folder, the fabric it is given, every variant's fabric and failure bounds are checked
    before the first variant runs; the fabric given is named `fabric` (the CLI calls it --fabric)."""
    from typer.testing import CliRunner

    from tokenfab.cli import app

    spec = _factory_file(tmp_path / "f.yaml")
    calls: list[tuple[int, int, str]] = []
    (tmp_path / "file").write_text("x")
    with pytest.raises(tokenfab.InputError, match="is a file, not a folder"):
        tokenfab.run_factory(spec, out=tmp_path / "file" / "out", progress=lambda *a: calls.append(a))
    with pytest.raises(tokenfab.InputError, match=r"^fabric: .*no-plan: no such intent file or plan folder") as err:
        tokenfab.run_factory(spec, fabric=tmp_path / "no-plan", progress=lambda *a: calls.append(a))
    assert err.value.field == "fabric"
    r = CliRunner().invoke(app, ["factory", "run", str(spec), "--fabric", str(tmp_path / "no-plan"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--fabric: " in r.output and not (tmp_path / "o").exists()
    late = _factory_file(tmp_path / "g.yaml", compare=[{"name": "elsewhere", "fabric": "gone.yaml"}])
    with pytest.raises(tokenfab.InputError, match=r"g.yaml: compare 'elsewhere': fabric: .*gone.yaml: no such"):
        tokenfab.run_factory(late, out=tmp_path / "g-out", progress=lambda *a: calls.append(a))
    assert calls == [] and not (tmp_path / "g-out").exists()
    two = _factory_file(tmp_path / "h.yaml", compare=[{"name": "first-fit", "scheduler": {"policy": "first-fit"}}])
    runs = tokenfab.run_factory(two, progress=lambda *a: calls.append(a))
    assert calls == [(0, 2, "mini"), (1, 2, "first-fit")]
    assert [s["factory"] for _, s in runs] == ["mini", "first-fit"]


def test_sweep_takes_a_loaded_spec_and_runs_in_a_scratch_folder_without_out(tmp_path):
    from tokenfab.sweep import load_sweep

    path = EXAMPLES / "sweep-leaf-choices.yaml"
    scratch = tokenfab.sweep(load_sweep(path), jobs=1)
    kept = tokenfab.sweep(path, out=tmp_path / "s", jobs=1)
    strip = ("seconds", "node")
    assert [{k: v for k, v in r.items() if k not in strip} for r in scratch] == [
        {k: v for k, v in r.items() if k not in strip} for r in kept
    ]
    assert sum(r["pareto"] for r in kept) >= 1


def test_the_web_apps_factory_job_writes_what_the_cli_writes(tmp_path):
    """A factory job in the app is `tokenfab factory run FILE --fabric PLAN`: the same files, byte for byte."""
    import time

    import yaml
    from fastapi.testclient import TestClient

    from tests.test_sweep import FACTORY
    from tokenfab.server.app import create_app

    intent = "name: mini\ncluster: {servers: 8, gpus_per_server: 4}\nfabric: {tiers: 2}\n"
    text = yaml.safe_dump({**FACTORY, "fabric": "unused", "window_h": 2}, sort_keys=False)
    with TestClient(create_app(tmp_path / "ws")) as c:
        assert c.post("/api/designs", json={"name": "mini", "intent_yaml": intent}).status_code == 201
        started = c.post("/api/designs/mini/factory", json={"factory_yaml": text}).json()
        deadline = time.monotonic() + 120
        while (job := c.get(f"/api/jobs/{started['job']['id']}").json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
    assert job["state"] == "done", job
    run = tmp_path / "ws" / "designs" / "mini" / "runs" / started["run"]
    from typer.testing import CliRunner

    from tokenfab.cli import app

    plan = tmp_path / "ws" / "designs" / "mini" / "plan"
    r = CliRunner().invoke(app, ["factory", "run", str(run / "factory.yaml"), "--fabric", str(plan), "-o", str(tmp_path / "cli")])
    assert r.exit_code == 0, r.output
    from tokenfab.outputs import written

    names = written(tmp_path / "cli")
    assert "summary.json" in names and names == written(run / "out")
    assert all((run / "out" / n).read_bytes() == (tmp_path / "cli" / n).read_bytes() for n in names)
