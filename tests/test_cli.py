"""The command line: outputs, determinism, and bad input (exit 2, no traceback, nothing written)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_plan_writes_the_layout_and_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        r = run("plan", EXAMPLES / "rail-optimized-256.yaml", "-o", out)
        assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in a.iterdir())
    assert files == [
        ".tokenfab-output",
        "bom.csv",
        "cabling.csv",
        "fabric.json",
        "fabric.schema.json",
        "ip-plan.csv",
        "topology.svg",
    ]
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    fabric = json.loads((a / "fabric.json").read_text())
    assert fabric["schema"] == "tokenfab.fabric/1"
    assert fabric["design"]["leaves"] == 4
    cabling = (a / "cabling.csv").read_text().splitlines()
    assert len(cabling) == 1 + 256 + 4 * 32  # header, NIC links, leaf-spine links


def test_existing_output_is_refused_without_force(tmp_path):
    out = tmp_path / "out"
    assert run("plan", EXAMPLES / "rail-only-128.yaml", "-o", out).returncode == 0
    r = run("plan", EXAMPLES / "rail-only-128.yaml", "-o", out)
    assert r.returncode == 2 and "--force" in r.stderr
    assert run("plan", EXAMPLES / "rail-only-128.yaml", "-o", out, "--force").returncode == 0


@pytest.mark.parametrize(
    "text, expect",
    [
        ("cluster: {servers: -4}", "cluster.servers"),
        ("cluster: {servers: 8, gpu_model: H900}", "H900"),
        ("cluster: {servers: 8}\nfabric: {switch_model: X1}", "fabric.switch_model"),
        ("cluster: {servers: 8, colour: red}", "cluster.colour"),
        ("fabric: {}", "cluster"),
        ("cluster: {servers: 8}\nfabric: {architecture: mesh}", "fabric.architecture"),
        ("cluster: {servers: 8}\naddressing: {loopbacks: 10.0.0.0/33}", "loopbacks"),
        ("cluster: {servers: 5000, gpus_per_server: 8}\nfabric: {architecture: rail-optimized, tiers: 2}", "fabric.tiers"),
        ("cluster: {servers: 8\n", "YAML"),
        ("cluster: {servers: 8}\nfabric: {leaf: {count: 3}}", "servers_per_su"),
        ("cluster: {servers: 8}\nfabric: {leaf: {downlink_breakout: 3x100G}}", "2x400G[200G]"),
        ("cluster: {servers: 8, nic_model: ConnectX-7, planes: 3}", "cluster.planes"),
        ("cluster: {servers: 200, gpus_per_server: 4}\nfabric: {architecture: rail-only, tiers: 1}", "needs 200 ports"),
        ("cluster: {servers: 200}\naddressing: {loopbacks: 10.0.0.0/28}", "addressing.loopbacks"),
        ("cluster: {servers: 8}\naddressing: {p2p: 10.0.0.0/8}", "overlap"),
        ("cluster: {servers: 8}\nprices_usd: {FOO: 1}", "prices_usd.FOO"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_bad_input_is_explained(tmp_path, text, expect):
    intent = tmp_path / "bad.yaml"
    intent.write_text(text)
    out = tmp_path / "out"
    r = run("plan", intent, "-o", out)
    assert r.returncode == 2
    assert expect in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_infeasible_tiers_gives_numbers(tmp_path):
    intent = tmp_path / "big.yaml"
    intent.write_text("cluster: {servers: 5000, gpus_per_server: 8}\nfabric: {architecture: rail-optimized, tiers: 2}\n")
    r = run("plan", intent, "-o", tmp_path / "o")
    assert "64 leaves" in r.stderr and "needs 632" in r.stderr


def test_diff_lists_additions(tmp_path):
    small, large = tmp_path / "s.yaml", tmp_path / "l.yaml"
    small.write_text("cluster: {servers: 64}\nfabric: {max_servers: 256}\n")
    large.write_text("cluster: {servers: 128}\nfabric: {max_servers: 256}\n")
    assert run("plan", small, "-o", tmp_path / "s").returncode == 0
    r = run("plan", large, "-o", tmp_path / "l", "--diff", tmp_path / "s")
    assert r.returncode == 0, r.stderr
    assert "no churn" in r.stdout
    assert "added devices" in (tmp_path / "l" / "diff.txt").read_text()
