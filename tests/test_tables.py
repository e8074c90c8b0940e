"""Tables that hold names a user types back (models, jobs, variants, switches) never cut them, in an
80-column terminal or a pipe: no ellipsis anywhere, each name whole on one line."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from tests.conftest import EXAMPLES
from tokenfab.clikit import whole
from tokenfab.workload.models import library

NAME = st.text("abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=30)
VALUE = st.one_of(
    st.floats(-1e12, 1e12, allow_nan=False).map(lambda x: f"{x:,.3f}"),
    st.integers(-(10**9), 10**9).map(str),
    st.text("abc xyz/-", max_size=20),
)


def render(table: Table, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(table, crop=False)
    return out.getvalue()


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(NAME, min_size=1, max_size=6, unique=True),
    values=st.lists(VALUE, min_size=1, max_size=7),
    width=st.integers(40, 120),
)
def test_names_stay_whole_and_nothing_is_cut(names, values, width):
    t = Table(title="t")
    t.add_column("name")
    for k in range(len(values)):
        t.add_column(f"column number {k}", justify="right")
    for n in names:
        t.add_row(n, *values)
    text = render(whole(t, "name", width=width), width)
    assert "…" not in text
    lines = text.splitlines()
    for n in names:
        assert any(n in line for line in lines), n
    if max(map(len, names)) + 3 * (len(values) + 1) + 1 + len(values) <= width:
        assert max(len(line) for line in lines) <= width


def _cli(*args, columns: str | None) -> str:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = columns
    r = subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_factory_models_in_80_columns_and_a_pipe():
    names = [m.name for m in library().values()]
    for columns in ("80", None):  # an 80-column terminal; a pipe (rich assumes 80 there too)
        text = _cli("factory", "models", columns=columns)
        assert "…" not in text
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 80
        for n in names:
            assert any(f"│ {n} " in line for line in lines), n


def test_job_and_variant_names_stay_whole(tmp_path):
    factory = tmp_path / "f.yaml"
    factory.write_text(f"""
name: table-test
fabric: {EXAMPLES / "rail-only-128.yaml"}
window_h: 1
network: {{model: analytical}}
workloads:
  small: {{training: {{model: llama3-8b, seq_len: 8192, global_batch: 16, parallelism: {{tp: 1, dp: 16}}}}}}
jobs:
  - {{name: continued-pretraining-of-the-assistant-model, workload: small}}
compare:
  - {{name: liquid-cooled-at-pue-one-point-one-variant, power: {{pue: 1.1}}}}
""")
    text = _cli("factory", "run", factory, "-o", tmp_path / "out", columns="80")
    assert "…" not in text
    lines = text.splitlines()
    assert any("│ continued-pretraining-of-the-assistant-model " in line for line in lines)
    assert any("│ liquid-cooled-at-pue-one-point-one-variant " in line for line in lines)


def test_sweep_table_keeps_switch_names(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        f"base: {EXAMPLES / 'rail-only-128.yaml'}\naxes: [{{path: fabric.switch_model, values: [CX732Q-N, TH4-64x400G]}}]\n"
    )
    text = _cli("sweep", sweep, "-o", tmp_path / "out", "--jobs", "1", columns="80")
    assert "…" not in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open()))
    front = [r for r in rows if r["pareto"] == "True"]
    assert front
    for r in front:
        assert any(re.search(rf"│ +{re.escape(r['fabric.switch_model'])} +│", line) for line in lines), r
