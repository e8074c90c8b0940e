"""`tokenfab catalog list|show|check` and `tokenfab schema`: the shipped schemas/ are up to date,
and every example file names the schema of its kind and passes it."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import EXAMPLES, ROOT
from tokenfab.catalog_commands import SCHEMAS, schema_of, schema_text
from tokenfab.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_user_folder(monkeypatch):
    from tokenfab.clikit import console

    monkeypatch.setenv("TOKENFAB_CATALOG", "")
    monkeypatch.setattr(console, "width", 250)  # one table row per line


def cli(*args):
    return runner.invoke(app, [str(a) for a in args], terminal_width=200)


@pytest.mark.parametrize("name", SCHEMAS)
def test_shipped_schemas_are_up_to_date(name):
    path = ROOT / "schemas" / f"{name}.schema.json"
    assert path.read_text() == schema_text(name), "regenerate with: tokenfab schema --out schemas --force"


def _examples():
    files = sorted(EXAMPLES.rglob("*.yaml"))
    assert files
    return files


@pytest.mark.parametrize("path", _examples(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_name_their_schema_and_pass_it(path):
    first = path.read_text().splitlines()[0]
    m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert m, f"{path}: first line should name its JSON Schema"
    schema_path = (path.parent / m.group(1)).resolve()
    assert schema_path.parent == ROOT / "schemas" and schema_path.exists()
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_schemas_refuse_a_typo():
    with pytest.raises(jsonschema.ValidationError, match="clustr"):
        jsonschema.validate({"clustr": {"servers": 2}}, schema_of("intent"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"gpus": [{"model": "X", "hbm_gbytes": 80}]}, schema_of("catalog"))


def test_schema_verb_prints_each_and_refuses_unknown():
    r = cli("schema", "catalog")
    assert r.exit_code == 0 and json.loads(r.stdout)["$id"] == "tokenfab.catalog/1"
    assert json.loads(cli("schema").stdout)["$id"] == "tokenfab.fabric/1"  # the default, as before
    r = cli("schema", "widget")
    assert r.exit_code == 2 and "accepted: intent, factory, sweep, catalog, fabric" in r.output


def test_list_show_and_check(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("catalog", "list", "gpus")
    assert r.exit_code == 0 and "H100" in r.stdout and "BF16 989" in r.stdout and "shipped" in r.stdout
    assert "ConnectX-7" not in r.stdout
    assert cli("catalog", "list", "widgets").exit_code == 2
    r = cli("catalog", "show", "H800")
    assert r.exit_code == 0 and "estimate: same as H100 SXM" in r.stdout
    assert "unknown" not in r.stdout
    r = cli("catalog", "show", "H9000")
    assert r.exit_code == 2 and "no catalog entry named 'H9000'" in r.output

    good = Path("good.yaml")
    good.write_text(yaml.safe_dump({"servers": [{"model": "HGX-H100-8", "gpus": 8, "gpu_model": "H100", "power_w": 9000}]}))
    r = cli("catalog", "check", good)
    assert r.exit_code == 0 and "overrides the shipped entry" in r.stdout and "ok: 1 entry in 1 file" in r.stdout
    r = cli("catalog", "list", "servers", "--catalog", good)
    assert re.search(r"HGX-H100-8 .*9 kW.*good\.yaml", r.stdout)

    bad = Path("bad.yaml")
    bad.write_text(
        yaml.safe_dump(
            {"servers": [{"model": "S", "gpus": 0, "gpu_model": "H100"}, {"model": "T", "gpus": 4, "gpu_model": "Z100"}]}
        )
    )
    r = cli("catalog", "check", bad)
    assert r.exit_code == 2
    assert "servers[0] (S): gpus: Input should be greater than 0 (got 0)" in r.output
    # references between entries are checked once each entry itself is well-formed
    bad.write_text(yaml.safe_dump({"servers": [{"model": "T", "gpus": 4, "gpu_model": "Z100"}]}))
    r = cli("catalog", "check", bad)
    assert r.exit_code == 2 and "server 'T' (bad.yaml): gpu_model: unknown GPU model 'Z100'" in r.output
