"""`tokenfab simulate`: the nccl-tests table, link load and heat map, and bad input (exit 2)."""

import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES

PLAN = EXAMPLES / "rail-optimized-256.yaml"


def run(*args):
    # a wide console: rich wraps at 80 columns otherwise, and the output paths differ in length
    return subprocess.run(
        [sys.executable, "-m", "tokenfab.cli", "simulate", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_prints_the_nccl_tests_table_deterministically(tmp_path):
    args = (PLAN, "-b", "1M", "-e", "16M", "-f", "4", "--seeds", "3", "--gpu-idle", "0.05", "--link-load", "--plot")
    a, b = run(*args, tmp_path / "load.svg"), run(*args, tmp_path / "again.svg")
    assert a.returncode == 0, a.stderr
    assert a.stdout.replace("load.svg", "again.svg") == b.stdout
    lines = a.stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("#") and "busbw" in ln)
    rows = [ln.split() for ln in lines[head + 2 : head + 5]]
    assert [int(r[0]) for r in rows] == [2**20, 2**22, 2**24]
    assert [int(r[1]) for r in rows] == [2**18, 2**20, 2**22]  # float elements
    assert all(r[2] == "float" and r[3] == "sum" for r in rows)
    busbw = [float(r[7]) for r in rows]
    assert busbw == sorted(busbw) and 0 < busbw[-1] < 4 * 50  # 4 NICs of 400G per server
    assert "busiest link directions" in a.stdout and "leaf-spine-up" in a.stdout
    svg = (tmp_path / "load.svg").read_text()
    assert svg.startswith("<?xml") and "leaf-spine links" in svg
    assert (tmp_path / "again.svg").read_text() == svg


def test_all_to_all_on_listed_servers_with_a_failure():
    r = run(
        PLAN,
        "-c",
        "all_to_all",
        "-b",
        "64M",
        "-e",
        "64M",
        "--servers",
        "srv-1..srv-4,srv-33",
        "--routing",
        "adaptive",
        "--fail",
        "spine-1",
        "--loss",
        "1e-6",
        "--jitter",
        "1",
    )
    assert r.returncode == 0, r.stderr
    assert "down: spine-1" in r.stdout and "20 ranks" in r.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (("-c", "allreduce_typo"), "unknown collective"),
        (("-b", "12Q"), "not a size"),
        (("-b", "1G", "-e", "1M"), "below min size"),
        (("--gpus", "100000"), "larger than the cluster"),
        (("--fail", "leaf-r1-1--spine-99"), "no device"),
        (("--fail", "leaf-r1-1:Ethernet999"), "no cabled port"),
        (("--routing", "magic"), "unknown routing"),
        (("--loss", "2"), "probability"),
        (("--servers", "srv-1,srv-1"), "twice"),
        (("--degrade", "leaf-r1-1--spine-1=fast"), "neither a fraction"),
    ],
)
def test_bad_input_exits_2_without_traceback(args, needle):
    from typer.testing import CliRunner

    from tokenfab.cli import app

    r = CliRunner().invoke(app, ["simulate", str(PLAN), *args])
    assert r.exit_code == 2, r.output
    assert needle in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)  # no traceback


def test_missing_plan_exits_2(tmp_path):
    r = run(tmp_path / "nope.yaml")
    assert r.returncode == 2 and "no such intent" in r.stderr
