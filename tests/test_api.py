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
