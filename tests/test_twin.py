"""The twin with real FRR in real network namespaces (needs root and Debian's frr: these tests
fail, not skip, when either is missing). Each test boots its own small twin under a unique name
and always takes it down again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tokenfab.twin import api, expect, hostlimits
from tokenfab.twin import layout as lay
from tokenfab.twin.state import DEFAULT_ROOT, Twin

# The twin tests compare the host's namespaces before and after: they run one at a time, on one
# pytest-xdist worker (make test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("twin")

EXAMPLE = EXAMPLES / "rail-optimized-256.yaml"  # 4 leaves + 2 spines, 16 parallel links each: 128 sessions


def _require_root_and_frr():
    assert os.geteuid() == 0, "twin tests need root (network namespaces)"
    assert Path("/usr/lib/frr/zebra").exists() and Path("/usr/lib/frr/bgpd").exists(), (
        "twin tests need Debian's FRR: apt-get install -y frr (apt-packages.txt)"
    )
    r = subprocess.run(["ip", "netns", "list"], capture_output=True)
    assert r.returncode == 0, "twin tests need `ip netns`"


def cli(*args, check=None):
    r = subprocess.run([sys.executable, "-m", "tokenfab.cli", "twin", *map(str, args)], capture_output=True, text=True)
    if check is not None:
        assert r.returncode == check, r.stdout + r.stderr
    return r


def configured(tmp_path: Path, intent: Path = EXAMPLE) -> Path:
    """`tokenfab plan` + `tokenfab configure`: a folder with configs/<hostname>/{config_db.json,frr.conf}."""
    out = tmp_path / intent.stem
    for args in (["plan", intent, "-o", out], ["configure", out]):
        r = subprocess.run([sys.executable, "-m", "tokenfab.cli", *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.fixture(scope="module")
def example_out(tmp_path_factory) -> Path:
    """The example planned and configured once; tests that edit it work on a copy."""
    return configured(tmp_path_factory.mktemp("example"))


@pytest.fixture
def names(request):
    """Unique twin names for this test; whatever is still up at the end is taken down."""
    made = []

    def new(tag: str) -> str:
        name = f"t{os.getpid() % 100000}-{tag}"
        made.append(name)
        return name

    yield new
    for n in made:
        if Twin(DEFAULT_ROOT, n).exists():
            api.down(n)


def host_links() -> set[str]:
    return {
        line.split(":")[1].strip().split("@")[0]
        for line in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
    }


def netns_list() -> set[str]:
    return {
        line.split()[0]
        for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines()
        if line
    }


def frr_pids(state_dir: Path) -> list[int]:
    marker = f"{state_dir}/".encode()
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker in (p / "cmdline").read_bytes():
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def result(report: dict, name: str) -> dict:
    return next(r for r in report["results"] if r["name"] == name)


def test_boot_check_fail_link_restore_down(example_out, names):
    _require_root_and_frr()
    out = example_out
    name = names("story")
    links_before, ns_before = host_links(), netns_list()
    limits_before = {k: hostlimits.read(k) for k in hostlimits.KEYS}
    held_before = hostlimits.REGISTER.exists()  # another twin on this host holds raised limits
    r = cli("up", out, "--name", name, "--servers", "2", "--json", check=0)
    boot = json.loads(r.stdout)
    assert boot["converged"] and boot["sessions"] == 128 and boot["switches"] == 6 and boot["servers"] == 2
    state = Path(boot["state_dir"])
    assert hostlimits.read("net.ipv4.neigh.default.gc_thresh3") >= hostlimits.RAISED["gc_thresh3"]

    rep = json.loads(cli("check", "--name", name, "--json", check=0).stdout)
    assert rep["ok"]
    assert "128 of 128 sessions Established" in result(rep, "bgp sessions")["summary"]
    assert "32 paths x 24" in result(rep, "ecmp routes")["summary"]  # 4 leaves x 3 others x (loopback + subnet)
    assert "32 pairs answer" in result(rep, "servers across rails")["summary"]  # 2 servers x 4 NICs, both ways

    # one leaf-spine link down: that leaf's routes lose one path, every pair still answers
    r = cli("fail", "leaf-r1-1:Ethernet256", "--name", name, "--json", check=0)
    ev = json.loads(r.stdout)
    assert ev["converged"] and ev["converged_s"] is not None and ev["converged_s"] < 30
    rep = json.loads(cli("check", "--name", name, "--json", check=0).stdout)
    routes = result(rep, "ecmp routes")["summary"]
    assert "31 paths x 6" in routes and "32 paths x 18" in routes and "leaf-r1-1 31 of 32" in routes
    assert "127 of 127 sessions Established, 1 down" in result(rep, "bgp sessions")["summary"]
    assert result(rep, "leaf loopback pings")["ok"] and result(rep, "servers across rails")["ok"]
    assert rep["last_event"]["converged_s"] == ev["converged_s"]
    # the kernel of leaf-r1-1 has the 31-way nexthop group as well
    kernel = subprocess.run(
        ["ip", "-n", f"tf-{name}-leaf-r1-1", "-j", "route", "show", "10.0.0.2/32"], capture_output=True, text=True, check=True
    )
    assert len(json.loads(kernel.stdout)[0]["nexthops"]) == 31

    cli("restore", "leaf-r1-1:Ethernet256", "--name", name, check=0)
    rep = json.loads(cli("check", "--name", name, "--json", check=0).stdout)
    assert rep["ok"] and "32 paths x 24" in result(rep, "ecmp routes")["summary"]

    r = cli("down", "--name", name, check=0)
    assert "removed 8 namespaces" in r.stdout
    after = netns_list()
    assert not [n for n in after if n.startswith(f"tf-{name}-")]  # none of its own namespaces left
    # every namespace that was there before is still there, except other twins' that their own
    # runs may take down meanwhile (a developer's machine can run two suites at once)
    assert {n for n in ns_before if not n.startswith("tf-")} <= after
    assert host_links() == links_before  # no veth ever appeared in the host namespace
    assert not frr_pids(state) and not state.exists()
    # the host-wide neighbour limits: released by this twin, restored once no twin holds them
    holders = json.loads(hostlimits.REGISTER.read_text())["holders"] if hostlimits.REGISTER.exists() else []
    assert str(state) not in holders
    if not holders and not held_before:
        assert {k: hostlimits.read(k) for k in hostlimits.KEYS} == limits_before


def test_kill9_then_down_cleans_only_its_own_twin(example_out, names):
    """Two twins side by side; one is killed abruptly (the boot process, then every FRR daemon)
    and `down` removes all of it while the other twin keeps running."""
    _require_root_and_frr()
    out = example_out
    keep, crash = names("keep"), names("crash")
    cli("up", out, "--name", keep, "--no-wait", check=0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenfab.cli", "twin", "up", out, "--name", crash],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    crash_state = DEFAULT_ROOT / crash
    deadline = time.monotonic() + 60
    while not list(crash_state.glob("nodes/*/bgpd.pid")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    for pid in frr_pids(crash_state):
        os.kill(pid, signal.SIGKILL)
    left = [ns for ns in netns_list() if ns.startswith(f"tf-{crash}-")]
    assert left, "the crash left namespaces behind (nothing to clean would prove nothing)"

    r = cli("down", "--name", crash, check=0)
    assert f"removed {len(left)} namespaces" in r.stdout
    assert not [ns for ns in netns_list() if ns.startswith(f"tf-{crash}-")]
    assert not frr_pids(crash_state) and not crash_state.exists()

    # the other twin did not notice
    assert len(frr_pids(DEFAULT_ROOT / keep)) == 12
    twin = Twin(DEFAULT_ROOT, keep)
    c = api.converge(twin, api._layout(twin, twin.load()), [], time.time(), 120)
    assert c.ok, [r.problems for r in c.results]
    cli("down", "--name", keep, check=0)


def test_wrong_peer_address_is_named(example_out, tmp_path, names):
    _require_root_and_frr()
    out = tmp_path / "out"
    shutil.copytree(example_out, out)
    leaf = out / "configs" / "leaf-r2-1"
    db = json.loads((leaf / "config_db.json").read_text())
    good = min(
        (ip for ip, nb in db["BGP_NEIGHBOR"].items() if nb["name"] == "spine-1"), key=lambda ip: tuple(map(int, ip.split(".")))
    )  # spine-1's end of one leaf-spine /31
    bad = good.rsplit(".", 1)[0] + ".250"
    db["BGP_NEIGHBOR"][bad] = db["BGP_NEIGHBOR"].pop(good)
    (leaf / "config_db.json").write_text(json.dumps(db))
    conf = (leaf / "frr.conf").read_text().replace(f"neighbor {good} ", f"neighbor {bad} ")
    # and a static route: valid FRR, but for staticd, which neither SONiC's bgpcfgd path nor the twin runs
    (leaf / "frr.conf").write_text(conf + "ip route 10.99.0.0/16 blackhole\n")

    name = names("broken")
    cli("up", out, "--name", name, "--no-wait", check=0)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # until everything that can come up did
        rep = json.loads(cli("check", "--name", name, "--no-ping", "--json").stdout)
        if [result(rep, n)["total_problems"] for n in ("bgp sessions", "ecmp routes")] == [2, 6]:
            break
        time.sleep(1)
    r = cli("check", "--name", name)
    assert r.returncode == 1
    assert f"leaf-r2-1 -> {bad} (spine-1, AS 64513): Active, never Established" in r.stdout, r.stdout
    # the spine's end of the same cable is named too, and that leaf has one path less
    assert "spine-1 -> " in r.stdout and "(leaf-r2-1, AS 64801)" in r.stdout
    assert "31 bgp paths, expected 32" in r.stdout
    lines = conf.count("\n") + 1
    assert f"leaf-r2-1 frr.conf line {lines}: `ip route 10.99.0.0/16 blackhole` accepted by neither zebra nor bgpd" in r.stdout
    cli("down", "--name", name, check=0)


def test_rail_only_reaches_its_rail_and_nothing_else(tmp_path, names):
    """Rail-only, two tiers (a spine pair per rail): servers reach each other on the same rail,
    and nothing crosses rails, as the plan says (cross-rail traffic uses NVLink)."""
    _require_root_and_frr()
    intent = tmp_path / "rail-only.yaml"
    intent.write_text(
        "name: ro2\ncluster: {servers: 8, gpus_per_server: 2}\n"
        "fabric: {architecture: rail-only, tiers: 2, servers_per_su: 4, leaf: {oversubscription: 15}}\n"
    )
    out = configured(tmp_path, intent)
    name = names("railonly")
    cli("up", out, "--name", name, "--servers", "2", check=0)
    rep = json.loads(cli("check", "--name", name, "--json", check=0).stdout)
    assert result(rep, "ecmp routes")["summary"].startswith("4 leaves, 8 leaf->prefix routes")  # own rail's other leaf
    assert "16 leaf->prefix routes absent as planned" in result(rep, "unreachable by design")["summary"]
    # srv-1 and srv-5 (one per scalable unit) sit under different leaves of each rail:
    # 2 rails x 2 directions answer, cross-rail pairs do not
    assert result(rep, "servers across rails")["summary"] == "4 pairs answer, 4 pairs have no path as expected"
    cli("down", "--name", name, check=0)


def test_bad_requests_are_explained(example_out, tmp_path, names):
    _require_root_and_frr()
    bare = tmp_path / "plan"
    subprocess.run([sys.executable, "-m", "tokenfab.cli", "plan", EXAMPLE, "-o", bare], check=True, capture_output=True)
    r = cli("up", bare, "--name", names("noconf"))
    assert r.returncode == 2 and "configure" in r.stderr and "Traceback" not in r.stderr
    assert not (DEFAULT_ROOT / names("noconf")).exists()
    r = cli("up", bare, "--name", "Bad_Name")
    assert r.returncode == 2 and "--name" in r.stderr
    r = cli("status", "--name", names("nothere"))
    assert r.returncode == 2 and "no twin" in r.stderr
    nobody = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "tokenfab.cli",
            "twin",
            "up",
            str(example_out),
        ],
        capture_output=True,
        text=True,
    )
    assert nobody.returncode == 1 and "needs root" in nobody.stderr and "Traceback" not in nobody.stderr

    out = tmp_path / "out"
    shutil.copytree(example_out, out)
    (out / "configs" / "spine-1" / "frr.conf").write_text("router bgp 64513\n neighbor 10.4.0.1 remote-az 64800\n")
    r = cli("up", out, "--name", names("syntax"))
    assert r.returncode == 2 and "spine-1/frr.conf" in r.stderr and "Unknown command" in r.stderr


def test_expected_widths_follow_the_plan_and_the_failures(example_out, tmp_path):
    """The path-vector expectation gives the plan's ECMP widths when nothing failed, and drops
    exactly the paths a failure removes (pure: no namespaces)."""

    three_tier = tmp_path / "three-tier.yaml"
    three_tier.write_text(
        "name: three-tier\ncluster: {servers: 16, gpus_per_server: 2}\n"
        "fabric: {architecture: rail-optimized, tiers: 3, servers_per_su: 2,"
        " leaf: {oversubscription: 7}, spine: {count: 2}}\n"
    )
    for out in (example_out, configured(tmp_path, three_tier)):
        layout = lay.load(out)
        fab = layout.fabric
        planned = fab.expectations["leaf_ecmp_links"]
        w = expect.widths(layout, set(), set())
        for src, dsts in w.items():
            assert dsts and set(dsts.values()) == {planned[src]}, (fab.intent.name, src, dsts)
        # fail one uplink of the first leaf: only its own widths drop by one
        first = next(iter(w))
        row = next(x.row for x in layout.wires if x.a == first and x.kind == "leaf-spine")
        w1 = expect.widths(layout, {row}, set())
        assert set(w1[first].values()) == {planned[first] - 1}
        # a spine down: every leaf of its group loses that spine's links
        spine = next(n.host for n in layout.switches if n.role == "spine")
        w2 = expect.widths(layout, set(), {spine})
        assert all(v < planned[s] for s, d in w2.items() for v in d.values() if s in {x.a for x in layout.wires if x.b == spine})
