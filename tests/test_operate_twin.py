"""operate's twin source on a real twin (root, FRR, namespaces): interface counters move while the
twin's servers exchange traffic, a failed link reads down with its BGP session, a restored one
counts a new session. Own twin name, the twin xdist group, always torn down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tokenfab.operate.twin_source import TwinSampler
from tokenfab.twin import api
from tokenfab.twin.state import DEFAULT_ROOT, Twin

pytestmark = pytest.mark.xdist_group("twin")
ROOT = Path(__file__).resolve().parents[1]


def test_twin_counters_and_bgp_state(tmp_path):
    assert os.geteuid() == 0, "the twin needs root (network namespaces)"
    out = tmp_path / "plan"
    for args in (["plan", ROOT / "examples" / "rail-optimized-256.yaml", "-o", out], ["configure", out]):
        r = subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    name = f"t{os.getpid() % 100000}-operate"
    traffic = None
    try:
        api.up(out, name=name, servers=2)
        s = TwinSampler(name)
        twin = Twin(DEFAULT_ROOT, name)
        src = s.layout.nodes["srv-1"].ports["nic1"].addrs[0].split("/")[0]
        dst = s.layout.nodes["srv-2"].ports["nic1"].addrs[0].split("/")[0]
        # UDP datagrams from srv-1's first NIC to srv-2's, through their rail leaf, for up to a minute
        blast = (
            "import socket, time\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"s.bind(('{src}', 0))\n"
            "end = time.time() + 60\n"
            "while time.time() < end:\n"
            f"    s.sendto(b'x' * 1400, ('{dst}', 9)); time.sleep(0.001)\n"
        )
        traffic = subprocess.Popen(
            ["ip", "netns", "exec", twin.netns("srv-1"), sys.executable, "-c", blast],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        s.sample()
        time.sleep(2.0)
        s.sample()
        tel = s.telemetry()
        idx = tel.ports.index()
        # the leaf port facing srv-1's nic1 received the pings
        leaf_port = next(k for k, i in idx.items() if tel.ports.peer[i] == "srv-1" and tel.ports.peer_port[i] == "nic1")
        rate = tel.rate("in_octets")[1, idx[leaf_port]]
        assert rate > 100_000, (leaf_port, rate)  # up to ~1,000 datagrams/s x 1.4 kB
        fab = [i for i in range(len(tel.ports)) if tel.ports.kind[i] != "nic"]
        assert np.all(tel.values["bgp_established"][-1, fab] == 1.0)
        assert np.all(tel.values["oper_up"][-1, fab] == 1.0)
        link = "leaf-r1-1:Ethernet256"
        api.fail(link, name=name)
        s.sample()
        tel = s.telemetry()
        p = idx[link]
        assert tel.values["oper_up"][-1, p] == 0.0 and tel.values["bgp_established"][-1, p] == 0.0
        before = int(tel.values["bgp_established_transitions"][-1, p])
        api.restore(link, name=name)
        s.sample()
        tel = s.telemetry()
        assert tel.values["bgp_established"][-1, p] == 1.0
        assert int(tel.values["bgp_established_transitions"][-1, p]) == before + 1
        assert tel.rate("carrier_transitions")[-1, p] > 0
        assert tel.warnings == [] or all("missing samples" in w for w in tel.warnings), tel.warnings
        # the CLI's live view of the same twin
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "tokenfab.cli",
                "operate",
                "watch",
                "--twin",
                name,
                "--samples",
                "2",
                "--interval",
                "1",
                "--every",
                "1",
                "--history",
                tmp_path / "hist",
                "--prometheus",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        n_fab = len(fab)
        assert f"sample 2: {n_fab} sessions established" in r.stdout, r.stdout
        assert len(list((tmp_path / "hist").glob("*.parquet"))) == 2
        assert len(list((tmp_path / "hist" / "devices").glob("*.parquet"))) == 2
        # FRR's route state: every leaf reaches the other leaves' subnets over both spines
        dev = s.devices().to_pylist()
        leaves = [d for d in dev if d["device"].startswith("leaf") and d["time_s"] == dev[-1]["time_s"]]
        assert leaves and all(d["bgpd_up"] and d["bgp_routes"] > 0 and d["max_ecmp"] >= 2 for d in leaves), leaves
    finally:
        if traffic is not None:
            traffic.kill()
            traffic.wait()
        if Twin(DEFAULT_ROOT, name).exists():
            api.down(name)
