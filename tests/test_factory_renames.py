"""Factory keys renamed to the unit convention (`size_gb` -> `size_gbytes`, ...): a file with the
old names loads as the one with the new names, each old key noted once (a warning, the CLI's
stderr, the run's assumptions); both names for one field are refused; the new names load silently;
the JSON Schema describes the new names and marks the old ones deprecated."""

import json
import re
import subprocess
import sys
import warnings

import jsonschema
import pytest
import yaml

from tests.conftest import EXAMPLES
from tokenfab.catalog_commands import schema_of
from tokenfab.errors import DeprecatedKeyWarning, InputError
from tokenfab.factory.spec import FactorySpec, parse_factory
from tokenfab.server.dashboard import factory_dashboard

RENAMED = {  # old -> new, the eight keys of the factory file users wrote before the convention
    "size_gb": "size_gbytes",
    "version_every_gb": "version_every_gbytes",
    "buffer_gb": "buffer_gbytes",
    "capacity_tb": "capacity_tbytes",
    "usd_per_tb_month": "usd_per_tbyte_month",
    "min_dataset_gb": "min_dataset_gbytes",
    "new_data_gb": "new_data_gbytes",
}
NOTE = (
    "`datasets.0.size_gb` is deprecated: write `size_gbytes` (same unit, GB = 10^9 bytes); "
    "the old name will be removed in a later release"
)


def _demo(old: bool) -> dict:
    """examples/factory-demo.yaml with every renamed key in use, under its old or its new name."""
    text = (EXAMPLES / "factory-demo.yaml").read_text()
    raw = yaml.safe_load(text)
    raw["storage"]["tiers"][0]["usd_per_tbyte_month"] = 95.0
    raw["lifecycles"][0]["retrain"] = {"new_data_gbytes": 30}
    raw["fabric"] = str(EXAMPLES / raw["fabric"])
    if old:
        text = yaml.safe_dump(raw, sort_keys=False)
        for o, n in RENAMED.items():
            text = re.sub(rf"\b{n}\b", o, text)
        raw = yaml.safe_load(text)
    return raw


def test_old_names_load_as_the_new_ones_with_one_note_each():
    with pytest.warns(DeprecatedKeyWarning) as caught:
        old = parse_factory(_demo(old=True), "demo.yaml")
    new = parse_factory(_demo(old=False), "demo.yaml")
    assert old.model_dump() == new.model_dump()
    assert old.storage.tiers[0].capacity_tbytes == 200 and old.storage.tiers[0].usd_per_tbyte_month == 95
    assert old.lifecycles[0].retrain.new_data_gbytes == 30 and old.pipelines[0].buffer_gbytes == 50
    paths = [re.match(r"`([^`]+)`", n).group(1) for n in old.notes]
    assert paths == [
        "storage.tiers.0.capacity_tb",
        "storage.tiers.0.usd_per_tb_month",
        "storage.tiers.1.capacity_tb",
        "storage.tiers.2.capacity_tb",
        "sources.1.batch.size_gb",
        "pipelines.0.buffer_gb",
        "pipelines.0.output.version_every_gb",
        "datasets.0.size_gb",
        "lifecycles.0.train.min_dataset_gb",
        "lifecycles.0.retrain.new_data_gb",
        "lifecycles.1.train.min_dataset_gb",
    ]
    assert {p.rsplit(".", 1)[1] for p in paths} == set(RENAMED)
    assert [str(w.message) for w in caught if w.category is DeprecatedKeyWarning] == list(old.notes)
    assert NOTE in old.notes
    assert "`storage.tiers.0.capacity_tb` is deprecated: write `capacity_tbytes` (same unit, TB = 10^12 bytes)" in (old.notes[0])
    assert new.notes == ()


def test_new_names_load_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        spec = parse_factory(_demo(old=False))
    assert spec.notes == ()


@pytest.mark.parametrize(
    "where, section",
    [
        ("datasets.0", {"datasets": [{"name": "d", "tier": "pfs", "size_gb": 1, "size_gbytes": 1}]}),
        ("storage.tiers.0", {"storage": {"tiers": [{"name": "pfs", "capacity_tb": 1, "capacity_tbytes": 1}]}}),
    ],
)
def test_old_and_new_name_together_are_refused_naming_both(where, section):
    data = {"fabric": "x.yaml", "storage": {"tiers": [{"name": "pfs", "capacity_tbytes": 1}]}} | section
    for tier in data["storage"]["tiers"]:
        tier |= {"read_gbytes_per_s": 1, "write_gbytes_per_s": 1}
    with pytest.raises(InputError) as exc:
        parse_factory(data, "f.yaml")
    old, new = next((o, n) for o, n in RENAMED.items() if o in json.dumps(section))
    assert f"f.yaml: {where}: `{old}` (deprecated) and `{new}` are the same field: give only `{new}`" in str(exc.value)


def test_an_error_names_the_key_the_user_wrote():
    data = {"fabric": "x.yaml", "storage": {"tiers": [{"name": "pfs", "capacity_tb": -1, "read_gbytes_per_s": 1}]}}
    with pytest.raises(InputError) as exc, pytest.warns(DeprecatedKeyWarning):
        parse_factory(data, "f.yaml")
    msg = str(exc.value)
    assert "storage.tiers.0.capacity_tb: Input should be greater than 0" in msg
    assert "storage.tiers.0.write_gbytes_per_s: required field is missing" in msg


def test_the_cli_notes_each_old_key_once_and_the_run_states_it(tmp_path):
    old = {
        "fabric": str(EXAMPLES / "rail-only-128.yaml"),
        "window_h": 0.5,
        "storage": {
            "fabric_gbps": 400,
            "tiers": [{"name": "pfs", "capacity_tbytes": 10, "read_gbytes_per_s": 5, "write_gbytes_per_s": 5}],
        },
        "datasets": [{"name": "d", "tier": "pfs", "size_gb": 50}],
        "compare": [{"name": "faster", "storage": {"fabric_gbps": 800, "tiers": [{"name": "pfs", "capacity_tb": 10}]}}],
    }
    old["compare"][0]["storage"]["tiers"][0] |= {"read_gbytes_per_s": 9, "write_gbytes_per_s": 9}
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(old))
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "factory", "run", str(path), "-o", str(out)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    stderr = " ".join(r.stderr.split())  # rich wraps long lines at the terminal width
    other = "`compare.0.storage.tiers.0.capacity_tb` is deprecated: write `capacity_tbytes`"
    assert stderr.count("is deprecated") == 2 and f"note: {NOTE}" in stderr and f"note: {other}" in stderr
    assert "Warning" not in r.stderr  # a note, not a Python warning with its source line
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["runs"]) == 2
    for run in summary["runs"].values():  # the base and its variant each state them
        assert run["assumptions"][0] == NOTE and run["assumptions"][1].startswith(other)
    assert (out / "assumptions.txt").read_text().startswith(NOTE + "\n" + other)
    for run in summary["runs"].values():
        assert run["notes"] == run["assumptions"][:2]
    assert factory_dashboard(out)["notes"][0] == NOTE  # the web app's factory view shows them


def test_the_schema_describes_the_new_names_and_marks_the_old_ones_deprecated():
    schema = schema_of("factory")
    defs = schema["$defs"]
    for model in ("Dataset", "BatchDrop", "Pipeline", "PipelineOutput", "Tier", "LifecycleTrain", "Retrain"):
        props = defs[model]["properties"]
        olds = [o for o, n in RENAMED.items() if n in props]
        assert olds, model
        for o in olds:
            assert props[o]["deprecated"] is True and RENAMED[o] in props[o]["description"]
            assert "deprecated" not in props[RENAMED[o]]
    assert FactorySpec.model_json_schema() == {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
    jsonschema.validate(_demo(old=True), schema)  # editors accept the files users already have
    jsonschema.validate(_demo(old=False), schema)
    both = _demo(old=False)
    both["datasets"][0]["size_gb"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(both, schema)
    neither = _demo(old=False)
    del neither["datasets"][0]["size_gbytes"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(neither, schema)


def test_a_reference_problem_names_the_key_the_user_wrote():
    data = {
        "fabric": "x.yaml",
        "storage": {"tiers": [{"name": "pfs", "capacity_tbytes": 1, "read_gbytes_per_s": 1, "write_gbytes_per_s": 1}]},
        "datasets": [{"name": "d", "tier": "pfs", "size_gb": 5000}],
    }
    with pytest.raises(InputError) as exc, pytest.warns(DeprecatedKeyWarning):
        parse_factory(data, "f.yaml")
    assert "f.yaml: datasets.0.size_gb: datasets on tier 'pfs' take 5,000 GB; it holds 1,000 GB" in str(exc.value)
