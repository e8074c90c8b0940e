"""The open catalog: users' own files add and override entries, are checked like the shipped ones
(every problem at once, with the field path and value), and travel with the fabric."""

import json
import subprocess
import sys

import pytest
import yaml

import tokenfab.catalog as catalog
from tokenfab import Fabric, load_intent, parse_intent, plan
from tokenfab.catalog import load_catalog, use_catalog
from tokenfab.catalog.files import read_layers
from tokenfab.errors import InputError

A100 = {
    "model": "A100-X",
    "vendor": "NVIDIA",
    "bf16_dense_tflops": 312,
    "hbm_gbytes": 80,
    "hbm_tbytes_per_s": 2.04,
    "nvlink_gbytes_per_s_per_direction": 300,
    "tdp_w": 400,
}
DGX = {"model": "DGX-X", "gpus": 8, "gpu_model": "A100-X", "power_w": 6500, "rack_units": 6}
TEAM_13B = {
    "name": "team-13b",
    "layers": 40,
    "hidden": 5120,
    "ffn_hidden": 13824,
    "vocab": 32000,
    "attention": {"heads": 40},
    "published_params_b": 13.0,
}


@pytest.fixture(autouse=True)
def _own_catalog(monkeypatch):
    """No user-wide folder, and whatever a test activates ends with the test."""
    monkeypatch.setenv("TOKENFAB_CATALOG", "")
    token = catalog._ACTIVE.set(None)
    yield
    catalog._ACTIVE.reset(token)


def write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(*args, cwd=None, env=None):
    import os

    e = {**os.environ, "TOKENFAB_CATALOG": "", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=e)


def test_intent_catalog_adds_a_gpu_and_server_and_the_fabric_records_them(tmp_path):
    (tmp_path / "hw").mkdir()
    write(tmp_path / "hw" / "a100.yaml", {"gpus": [A100], "servers": [DGX]})
    intent = write(
        tmp_path / "intent.yaml",
        {"name": "a100", "catalog": ["hw"], "cluster": {"servers": 4, "gpu_model": "A100-X", "server_model": "DGX-X"}},
    )
    fabric = plan(load_intent(intent))
    assert set(fabric.devices["model"][fabric.devices["role"] == "server"]) == {"DGX-X"}
    obj = json.loads(fabric.dumps())
    assert obj["catalog"][0]["source"] == "hw/a100.yaml"
    assert [g["model"] for g in obj["catalog"][0]["entries"]["gpus"]] == ["A100-X"]
    # a later stage, in a fresh context and from another folder, reads the same catalog from fabric.json
    catalog._ACTIVE.set(None)
    again = Fabric.from_json_obj(obj)
    assert load_catalog().gpus["A100-X"].bf16_dense_tflops == 312
    assert again.dumps() == fabric.dumps()


def test_a_shipped_name_is_overridden_and_the_plan_says_so(tmp_path):
    cx7 = {"model": "ConnectX-7", "vendor": "NVIDIA", "speed_gbps": 200, "price_usd": 1000}
    write(tmp_path / "nic.yaml", {"nics": [cx7]})
    intent = write(tmp_path / "i.yaml", {"catalog": ["nic.yaml"], "cluster": {"servers": 4}})
    fabric = plan(load_intent(intent))
    assert fabric.design["link_speed_gbps"] == 200
    assert "catalog: NIC 'ConnectX-7' from nic.yaml overrides the shipped entry" in fabric.design["reasons"]
    assert load_catalog().source_of("nics", "ConnectX-7") == "nic.yaml"
    assert load_catalog(()).nics["ConnectX-7"].speed_gbps == 400  # the shipped catalog is untouched


def test_a_bad_catalog_file_names_every_problem(tmp_path):
    bad = write(
        tmp_path / "bad.yaml",
        {
            "gpus": [dict(A100, bf16_dense_tflops=-1, hbm_gbs=3), A100, A100],
            "widgets": [],
            "switches": [{"model": "Y"}],
            "models": [
                {
                    "name": "m",
                    "layers": 2,
                    "hidden": 64,
                    "ffn_hidden": 128,
                    "vocab": 100,
                    "attention": {"heads": 3, "kv_heads": 2},
                }
            ],
        },
    )
    with pytest.raises(InputError) as exc:
        read_layers([bad])
    msg = str(exc.value)
    for part in [
        "gpus[0] (A100-X): bf16_dense_tflops: Input should be greater than 0 (got -1)",
        "gpus[0] (A100-X): hbm_gbs: unknown key",
        "gpus[1] (A100-X): 'A100-X' is defined twice",
        "widgets: unknown kind; accepted: switches, nics, gpus, servers, optics, models",
        "switches[0] (Y): ports: required field is missing",
        "switches[0] (Y): breakout_modes",
        "models[0] (m): attention: heads (3) must be a multiple of kv_heads (2)",
    ]:
        assert part in msg


def test_every_bad_reference_in_the_intent_is_listed_at_once():
    with pytest.raises(InputError) as exc:
        parse_intent(
            {
                "cluster": {"servers": 2, "gpu_model": "Nope", "nic_model": "Nah"},
                "fabric": {"switch_model": "Sw", "spine": {"switch_model": "Sp"}},
                "prices_usd": {"Gizmo": 3},
            }
        )
    msg = str(exc.value)
    assert "5 problems" in msg
    for field in [
        "cluster.gpu_model",
        "cluster.nic_model",
        "fabric.switch_model",
        "fabric.spine.switch_model",
        "prices_usd.Gizmo",
    ]:
        assert f"{field}: unknown" in msg


def test_server_and_intent_must_agree():
    with pytest.raises(InputError, match="gpus_per_server: 8, but server H100-4 holds 4 GPUs"):
        parse_intent({"cluster": {"servers": 2, "server_model": "H100-4"}})


def test_a_user_model_is_a_workload_model(tmp_path):
    from tokenfab.workload.models import get_model

    gpt3 = {
        "name": "my-gpt3",
        "layers": 96,
        "hidden": 12288,
        "ffn_hidden": 32768,
        "vocab": 50257,
        "attention": {"heads": 96},
        "published_params_b": 175,
    }
    layers = read_layers([write(tmp_path / "m.yaml", {"models": [gpt3]})])
    with use_catalog(layers):
        assert get_model("my-gpt3").params == pytest.approx(175e9, rel=0.02)
    with pytest.raises(InputError, match="unknown model 'my-gpt3'"):
        get_model("my-gpt3")


def test_cli_catalog_option_and_later_stages(tmp_path):
    """End to end in real processes: plan with --catalog, then configure with no catalog option."""
    write(tmp_path / "a100.yaml", {"gpus": [A100], "servers": [DGX]})
    write(tmp_path / "i.yaml", {"name": "a100", "cluster": {"servers": 2, "gpu_model": "A100-X", "server_model": "DGX-X"}})
    r = run("plan", "i.yaml", "-o", "p", "--catalog", "a100.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("configure", "p", "-o", "c", cwd=tmp_path)  # the catalog comes from fabric.json
    assert r.returncode == 0, r.stderr


def test_user_wide_folder_and_bad_catalog_paths(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tokenfab.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    write(tmp_path / "mine" / "a100.yaml", {"gpus": [A100], "servers": [DGX]})
    write(tmp_path / "i.yaml", {"name": "a100", "cluster": {"servers": 2, "gpu_model": "A100-X", "server_model": "DGX-X"}})
    cli = CliRunner()
    monkeypatch.setenv("TOKENFAB_CATALOG", str(tmp_path / "mine"))  # the user-wide folder serves every command
    r = cli.invoke(app, ["plan", "i.yaml", "-o", "q"])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("TOKENFAB_CATALOG", "")
    r = cli.invoke(app, ["plan", "i.yaml", "-o", "z"])
    assert r.exit_code == 2 and "unknown GPU model 'A100-X'" in r.output
    assert not (tmp_path / "z").exists()
    r = cli.invoke(app, ["plan", "i.yaml", "-o", "z", "--catalog", "missing.yaml"])
    assert r.exit_code == 2 and "catalog path missing.yaml does not exist" in r.output
    monkeypatch.setenv("TOKENFAB_CATALOG", str(tmp_path / "gone"))
    r = cli.invoke(app, ["catalog", "list"])
    assert r.exit_code == 2 and "$TOKENFAB_CATALOG names" in r.output


def test_the_example_user_catalog_plans_selene_and_its_models_match_the_paper():
    from tests.conftest import EXAMPLES
    from tokenfab.workload.models import get_model

    fabric = plan(load_intent(EXAMPLES / "selene-a100-2240.yaml"))
    srv = fabric.devices["role"] == "server"
    assert set(fabric.devices["model"][srv]) == {"DGX-A100-80GB"} and srv.sum() == 280
    assert fabric.design["link_speed_gbps"] == 200 and fabric.design["gpus"] == 2240
    with use_catalog(read_layers([EXAMPLES / "catalog" / "megatron-a100.yaml"])):
        for name in ("megatron-22b", "megatron-530b", "megatron-1t"):
            m = get_model(name)
            assert m.params / 1e9 == pytest.approx(m.published_params_b, rel=0.01)


def test_a_sweep_finds_its_base_intents_catalog_from_any_folder(tmp_path, monkeypatch):
    from tokenfab.sweep.spec import load_sweep, points
    from tokenfab.sweep.tasks import design_task

    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "hw.yaml", {"gpus": [A100], "servers": [DGX]})
    write(
        tmp_path / "sub" / "i.yaml",
        {"catalog": ["hw.yaml"], "cluster": {"servers": 4, "gpu_model": "A100-X", "server_model": "DGX-X"}},
    )
    write(
        tmp_path / "sweep.yaml",
        {"name": "s", "base": "sub/i.yaml", "axes": [{"path": "fabric.leaf.oversubscription", "values": [1, 2]}]},
    )
    spec, base, factory = load_sweep(tmp_path / "sweep.yaml")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # a worker's folder is not the intent's
    catalog._ACTIVE.set(None)
    assert [design_task(p.intent, False)[0]["status"] for p in points(spec, base, factory)] == ["ok", "ok"]


def test_a_factory_files_catalog_brings_its_own_model(tmp_path):
    from typer.testing import CliRunner

    from tokenfab.cli import app

    write(tmp_path / "models.yaml", {"models": [TEAM_13B]})
    write(tmp_path / "i.yaml", {"cluster": {"servers": 4}})
    write(
        tmp_path / "f.yaml",
        {
            "fabric": "i.yaml",
            "catalog": ["models.yaml"],
            "network": {"model": "analytical"},
            "tenants": [{"name": "t"}],
            "workloads": {
                "w": {
                    "training": {
                        "model": "team-13b",
                        "seq_len": 4096,
                        "global_batch": 32,
                        "parallelism": {"tp": 8, "pp": 1, "dp": 4},
                    }
                }
            },
            "jobs": [{"name": "j", "tenant": "t", "workload": "w", "arrive_h": 0, "steps": 10}],
        },
    )
    r = CliRunner().invoke(app, ["factory", "estimate", str(tmp_path / "f.yaml")], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "MFU" in r.output or "step" in r.output
    r = CliRunner().invoke(app, ["factory", "models", "--catalog", str(tmp_path / "models.yaml")])
    assert r.exit_code == 0 and "team-13b" in r.output
    write(
        tmp_path / "f.yaml",
        {
            "fabric": "i.yaml",
            "tenants": [{"name": "t"}],
            "workloads": {
                "w": {
                    "training": {
                        "model": "team-13b",
                        "seq_len": 4096,
                        "global_batch": 32,
                        "parallelism": {"tp": 8, "pp": 1, "dp": 4},
                    }
                }
            },
            "jobs": [{"name": "j", "tenant": "t", "workload": "w", "arrive_h": 0, "steps": 10}],
        },
    )
    r = CliRunner().invoke(app, ["factory", "estimate", str(tmp_path / "f.yaml")])
    assert r.exit_code == 2 and "unknown model 'team-13b'" in r.output


def test_the_rest_api_reads_no_files_a_posted_intent_names(tmp_path):
    from fastapi.testclient import TestClient

    from tokenfab.server.app import create_app

    client = TestClient(create_app(tmp_path / "ws"))
    r = client.post("/api/plan", json="catalog: [/etc/passwd]\ncluster: {servers: 4}\n")
    assert r.status_code == 422 and "cannot name files on the server" in r.json()["error"]["message"]
    r = client.post("/api/designs", json={"name": "x", "intent_yaml": "catalog: [/etc/passwd]\ncluster: {servers: 4}\n"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "catalog"


def _catalog_sweep(tmp_path):
    """A sweep whose base intent names --catalog entries (a GPU, a server) and whose factory runs a model
    from its own catalog file."""
    write(tmp_path / "hw.yaml", {"gpus": [A100], "servers": [DGX]})
    write(tmp_path / "models.yaml", {"models": [TEAM_13B]})
    cluster = {"servers": 4, "gpu_model": "A100-X", "server_model": "DGX-X"}
    write(tmp_path / "i.yaml", {"name": "a100", "cluster": cluster, "fabric": {"tiers": 2}})
    training = {"model": "team-13b", "seq_len": 4096, "global_batch": 32, "parallelism": {"tp": 8, "pp": 1, "dp": 4}}
    factory = {
        "catalog": ["models.yaml"],  # relative to the sweep file, where the factory is written inline
        "window_h": 1,
        "network": {"model": "analytical"},
        "tenants": [{"name": "t"}],
        "workloads": {"w": {"training": training}},
        "jobs": [{"name": "j", "tenant": "t", "workload": "w", "arrive_h": 0, "steps": 100}],
    }
    return write(
        tmp_path / "s.yaml",
        {
            "name": "cat",
            "base": "i.yaml",
            "factory": factory,
            "axes": [{"path": "fabric.leaf.oversubscription", "values": [1, 2]}],
            "objectives": [{"metric": "tokens", "goal": "max"}, {"metric": "switches", "goal": "min"}],
        },
    )


def test_sweep_workers_plan_and_run_with_the_cli_catalog(tmp_path, monkeypatch):
    """--catalog reaches the local pool's workers (spawned: they share nothing with the driver), so does
    the factory file's own catalog, and a resume must use the same catalog files."""
    import csv
    import os
    import socket

    import duckdb
    from typer.testing import CliRunner

    from tokenfab.cli import app

    monkeypatch.chdir(tmp_path)
    _catalog_sweep(tmp_path)
    cli = CliRunner()
    r = cli.invoke(app, ["sweep", "s.yaml", "-o", "out", "-j", "2", "--catalog", "hw.yaml"])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "out" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(row["status"], row["reason"]) for row in rows] == [("ok", "")] * 2
    assert all(float(row["tokens"]) > 0 for row in rows)  # the factory ran the catalog's model on the catalog's GPUs
    con = duckdb.connect(str(tmp_path / "out" / "sweep.duckdb"), read_only=True)
    nodes = {n for (n,) in con.execute("SELECT node FROM points").fetchall()}
    con.close()
    assert f"{socket.gethostname()}:{os.getpid()}" not in nodes and len(nodes) >= 1  # in the pool's workers
    r = cli.invoke(app, ["sweep", "s.yaml", "-o", "out", "--resume"])  # without the catalog: refused before work
    assert r.exit_code == 2 and "unknown GPU model 'A100-X'" in r.output
    (tmp_path / "hw2.yaml").write_text("# another file, the same entries\n" + (tmp_path / "hw.yaml").read_text())
    r = cli.invoke(app, ["sweep", "s.yaml", "-o", "out", "--resume", "--catalog", "hw2.yaml"])
    assert r.exit_code == 2 and "catalog files differ" in r.output
    r = cli.invoke(app, ["sweep", "s.yaml", "-o", "out", "--resume", "--catalog", "hw.yaml"])
    assert r.exit_code == 0, r.output
