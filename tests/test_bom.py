"""The design-level bill of materials: typed rows, categories as an enum, one source for bom.csv,
sweeps and the factory's power and capex."""

import csv
import io
import subprocess
import sys

import pytest

from tests.factory_fabrics import small
from tokenfab import parse_intent
from tokenfab.design import bom
from tokenfab.design.bom import Category
from tokenfab.errors import InputError
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.power import PowerModel
from tokenfab.factory.spec import parse_factory
from tokenfab.report.tables import bom_csv


@pytest.fixture(scope="module")
def fabric():
    return small()


def test_rows_are_typed_and_cover_every_network(fabric):
    rows = bom.bom(fabric)
    assert all(isinstance(r.category, Category) for r in rows)
    assert {r.network for r in rows} == {"compute", "backend", "frontend", "storage"}
    assert {r.category for r in rows} == set(Category)
    servers = [r for r in rows if r.category is Category.SERVER]
    assert sum(r.count for r in servers) == 16
    # every switch of the backend fabric is counted once
    sw = sum(r.count for r in rows if r.category is Category.SWITCH and r.network == "backend")
    assert sw == int((fabric.devices["role"] != "server").sum())


def test_bom_csv_totals_are_the_rows(fabric):
    rows = bom.bom(fabric)
    table = list(csv.DictReader(io.StringIO(bom_csv(fabric))))
    parts = [t for t in table if t["network"] not in ("total", "rack")]
    assert [(t["category"], t["model"], int(t["count"])) for t in parts] == [(r.category.value, r.model, r.count) for r in rows]
    total = next(t for t in table if t["network"] == "total")
    assert float(total["total_price_usd"]) == pytest.approx(bom.price_usd(rows), abs=0.01)
    assert float(total["total_power_w"]) == pytest.approx(bom.power_w(rows), abs=0.01)


def test_factory_power_and_capex_come_from_the_bom(fabric):
    spec = parse_factory({"name": "p", "fabric": "x.yaml", "window_h": 1, "tenants": [{"name": "a"}], "jobs": []})
    rows = bom.bom(fabric)
    pw = PowerModel.of(spec, fabric, Cluster(fabric))
    by = {c: sum(r.total_power_w for r in rows if r.category is c) for c in Category}
    assert by[Category.SWITCH] > 0 and by[Category.OPTIC] > 0 and by[Category.NIC] > 0
    assert pw.switch_w == pytest.approx(by[Category.SWITCH])
    assert pw.optics_w == pytest.approx(by[Category.OPTIC])
    assert pw.nic_w == pytest.approx(by[Category.NIC])
    assert pw.network_w == pytest.approx(by[Category.SWITCH] + by[Category.OPTIC] + by[Category.NIC])
    assert pw.capex_usd == pytest.approx(sum(r.total_price_usd for r in rows))
    assert pw.server_overhead_w == pytest.approx(by[Category.SERVER] - 64 * pw.gpu_tdp_w)


def test_the_factory_does_not_import_the_report():
    code = (
        "import sys, tokenfab.factory.engine, tokenfab.factory.kpis, tokenfab.factory.ledger; "
        "print(sorted(m for m in sys.modules if m.startswith('tokenfab.report')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "section, value, part",
    [
        ({"fabric": {"architecture": "rail-optimized", "switch_model": "NO-SUCH-SWITCH"}}, "NO-SUCH-SWITCH", "switch"),
        ({"cluster": {"servers": 8, "gpus_per_server": 8, "nic_model": "NO-SUCH-NIC"}}, "NO-SUCH-NIC", "NIC"),
    ],
)
def test_an_unknown_part_is_named_in_plain_words(section, value, part):
    data = {"name": "x", "cluster": {"servers": 8, "gpus_per_server": 8}, "fabric": {"architecture": "rail-optimized"}}
    data.update(section)
    with pytest.raises(InputError) as exc:
        parse_intent(data)
    msg = str(exc.value)
    assert f"unknown {part} model {value!r}" in msg and "switche " not in msg
