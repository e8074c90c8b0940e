"""The twin's verbs as functions: up, status, check, fail, restore, down.

Each returns a plain dict (what the CLI prints, or `--json`). Side effects are limited to what
the twin records in its state folder (see state.py): namespaces named in its ledger, processes
named by its pid files and started with its own paths.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenfab.errors import InputError
from tokenfab.twin import check as chk
from tokenfab.twin import dataplane, expect, frr, hostlimits, netns, observe
from tokenfab.twin import layout as lay
from tokenfab.twin.state import Twin, check_name, find, list_twins, state_root

Progress = Callable[[str, int, int], None]  # (phase, done, total)
POLL_S = 0.25


class TwinError(RuntimeError):
    """The twin could not do what was asked (a command failed, FRR did not start)."""


def _need_root() -> None:
    if os.geteuid() != 0:
        raise TwinError("the twin needs root (network namespaces, FRR's sockets, raw ICMP); run it with sudo")


def _preflight() -> None:
    _need_root()
    why = frr.missing()
    if why:
        raise TwinError(why)
    if not shutil.which("ip"):
        raise TwinError("iproute2's `ip` is missing: apt-get install -y iproute2")


def _tick(progress: Progress | None, phase: str, done: int, total: int) -> None:
    if progress:
        progress(phase, done, total)


def _syntax_check(layout: lay.Layout) -> None:
    """vtysh's dry run on one frr.conf per role (they come from one template; ~75 ms each, so not
    all 70). `check` later proves every line of every file was taken by a daemon."""
    first: dict[str, lay.Node] = {}
    for n in layout.switches:
        first.setdefault(n.role, n)
    files = [n.config_dir / "frr.conf" for n in first.values() if n.config_dir is not None]  # every switch has one
    errors = netns.parallel(frr.syntax_errors, files)
    bad = [f"{f}: {e}" for f, e in zip(files, errors) if e]
    if bad:
        raise InputError(f"{len(bad)} frr.conf file(s) do not load in FRR (vtysh -C): " + " | ".join(bad[:3]))


def _layout(twin: Twin, record: dict) -> lay.Layout:
    return lay.load(twin.dir, record.get("servers", 0), configs=twin.dir / "nodes")


def _node_dirs(twin: Twin, layout: lay.Layout) -> dict[str, Path]:
    return {n.host: twin.node_dir(n.host) for n in layout.switches}


def _start_daemons(twin: Twin, hosts: list[str], progress: Progress | None = None) -> None:
    """zebra everywhere first, then bgpd (bgpd wants zebra's socket; pitfall: early sessions)."""
    for i, daemon in enumerate(frr.DAEMONS):
        netns.parallel(lambda h, daemon=daemon: frr.start(daemon, twin.netns(h), twin.node_dir(h)), hosts)
        want = [twin.node_dir(h) / f"{daemon}.pid" for h in hosts]
        if daemon == "zebra":
            want += [twin.node_dir(h) / "zserv.api" for h in hosts]
        left = frr.wait_for(want)
        if left:
            raise TwinError(
                f"{daemon} did not come up in {len(left)} namespace(s), e.g. {left[0].parent} "
                f"(see {left[0].parent / (daemon + '.log')})"
            )
        _tick(progress, "starting FRR", i + 1, len(frr.DAEMONS))


# -- up ----------------------------------------------------------------------------------
def up(
    out: Path,
    name: str | None = None,
    servers: int = 0,
    root: Path | None = None,
    wait: bool = True,
    timeout_s: float = 300.0,
    progress: Progress | None = None,
) -> dict:
    """Boot configure's output folder OUT as a twin and (by default) wait until it converged."""
    _preflight()
    if name:
        check_name(name)
    wall0, t0 = time.time(), time.monotonic()
    layout = lay.load(Path(out), servers)
    name = check_name(name or layout.fabric.intent.name)
    _syntax_check(layout)
    twin = Twin(state_root(root), name)
    if twin.exists():
        raise InputError(
            f"twin {name!r} exists already ({twin.dir}); `tokenfab twin down --name {name}` removes it "
            "(also what a crashed run left behind), or pick another --name",
            "--name",
        )
    ns_of = {h: twin.netns(h) for h in layout.nodes}
    taken = [n for n in ns_of.values() if netns.exists(n)]
    if taken:
        raise InputError(f"network namespace {taken[0]} exists and was not made by this twin; pick another --name", "--name")
    switches = [n.host for n in layout.switches]
    timings: dict[str, float] = {}
    try:
        with twin.locked():
            for host in switches:
                d, configs = twin.make_node_dir(host), layout.nodes[host].config_dir
                assert configs is not None  # switches come with configs/<hostname>
                for f in ("config_db.json", "frr.conf"):
                    shutil.copyfile(configs / f, d / f)
            shutil.copyfile(Path(out) / "fabric.json", twin.dir / "fabric.json")
            record: dict[str, Any] = {
                "name": name,
                "source": str(Path(out).resolve()),
                "servers": servers,
                "state": "booting",
                "started_at": wall0,
                "failures": [],
                "events": [],
                "namespaces": {},
            }
            twin.save(record)
            record["neigh_limits"] = hostlimits.acquire(twin.dir)
            twin.note_namespaces(list(ns_of.values()))
            netns.add_namespaces(list(ns_of.values()))
            record["namespaces"] = {ns: netns.inode(ns) for ns in ns_of.values()}
            twin.save(record)
            _tick(progress, "namespaces", len(ns_of), len(ns_of))
            netns.parallel(
                lambda h: netns.set_sysctls(
                    ns_of[h], netns.SWITCH_SYSCTLS if layout.nodes[h].is_switch else netns.SERVER_SYSCTLS
                ),
                list(ns_of),
            )
            netns.add_wires(layout.wires, ns_of)
            _tick(progress, "links", len(layout.wires), len(layout.wires))
            record["stub"] = stub = netns.stub_kind(next(iter(ns_of.values())))
            netns.parallel(lambda h: netns.configure_node(ns_of[h], layout.nodes[h], stub), list(ns_of))
            _tick(progress, "addresses", len(ns_of), len(ns_of))
            timings["setup_s"] = time.monotonic() - t0
            for host in switches:
                frr.prepare(twin.node_dir(host))
            _start_daemons(twin, switches, progress)
            timings["daemons_s"] = time.monotonic() - t0
            record["state"] = "up"
            record["events"].append({"action": "up", "at": wall0})
            twin.save(record)
    except BaseException as exc:
        try:
            _teardown(twin)
        except Exception:
            pass  # the original error matters more; `twin down` can still be run
        if isinstance(exc, (netns.IpError, frr.FrrError)):
            raise TwinError(f"boot failed and was undone: {exc}") from None
        raise
    report = {
        "name": name,
        "state_dir": str(twin.dir),
        "switches": len(switches),
        "servers": len(layout.servers),
        "namespaces": len(ns_of),
        "links": len(layout.wires),
        "sessions": len(layout.sessions()) // 2,
        "daemons": 2 * len(switches),
        "stub_interfaces": stub,
        **{k: round(v, 2) for k, v in timings.items()},
    }
    if wait:
        c = converge(twin, layout, [], wall0, timeout_s, progress)
        report.update(
            converged=c.ok,
            converged_s=None if c.seconds is None else round(c.seconds, 2),
            poll_s=round(c.poll_s, 2),
            results=[r.to_json() for r in c.results],
        )
        with twin.locked():
            rec = twin.load()
            rec["events"][-1].update(converged_s=report["converged_s"], poll_s=report["poll_s"])
            twin.save(rec)
    report["daemon_rss_bytes"] = memory(twin, layout)
    return report


def memory(twin: Twin, layout: lay.Layout) -> int:
    return sum(frr.rss_bytes(frr.pid_of(twin.node_dir(h), d)) for h in _node_dirs(twin, layout) for d in frr.DAEMONS)


# -- convergence -------------------------------------------------------------------------
def _routing_results(layout, exp, views, hard) -> list[chk.Result]:
    results = [
        chk.daemons(layout, exp, views, hard),
        chk.sessions(layout, exp, views),
        chk.routes(layout, exp, views),
        chk.by_design(layout, exp, views),
    ]
    return [r for r in results if r is not None]


def _hard_failed(failures: list[dict]) -> set[str]:
    return {d for f in failures if f.get("hard") for d in f.get("devices", [])}


@dataclass
class Convergence:
    ok: bool
    seconds: float | None  # since the change (wall clock) until the first fully matching poll finished
    poll_s: float  # how long that poll took: the measurement's resolution
    results: list[chk.Result]


def converge(
    twin: Twin, layout: lay.Layout, failures: list[dict], since: float, timeout_s: float, progress: Progress | None = None
) -> Convergence:
    """Poll all switches until daemons, sessions and routes match the expectation for `failures`."""
    exp = expect.expected(layout, failures)
    dirs = _node_dirs(twin, layout)
    leaves = {h for h in dirs if layout.nodes[h].role == "leaf"}
    hard = _hard_failed(failures)
    total = len(exp.established) + len(exp.routes) + len(exp.absent) + len(exp.down)  # what the polls compare
    deadline = time.monotonic() + timeout_s
    while True:
        start = time.time()
        views = observe.fabric(dirs, leaves)
        results = _routing_results(layout, exp, views, hard)
        done = time.time()
        bad = sum(r.total_problems for r in results)
        _tick(progress, "converging", max(0, total - bad), total)
        if chk.all_ok(results):
            return Convergence(True, done - since, done - start, results)
        if time.monotonic() > deadline:
            return Convergence(False, None, done - start, results)
        time.sleep(POLL_S)


# -- status / check ----------------------------------------------------------------------
def _neighbor_name(layout: lay.Layout, host: str, ip: str) -> str:
    neighbor = layout.nodes[host].neighbors.get(ip)
    return neighbor.name if neighbor is not None else "?"


def status(name: str | None = None, root: Path | None = None) -> dict:
    _need_root()
    twin = find(state_root(root), name)
    rec = twin.load()
    layout = _layout(twin, rec)
    dirs = _node_dirs(twin, layout)
    views = observe.fabric(dirs, set(dirs))
    rows = []
    for host, v in views.items():
        bgp = [w for p, w in v.routes.values() if p == "bgp"]
        ups = [s.uptime_ms for s in v.sessions.values() if s.state == "Established"]
        rows.append(
            {
                "switch": host,
                "role": layout.nodes[host].role,
                "zebra": v.zebra,
                "bgpd": v.bgpd,
                "sessions_established": v.established,
                "sessions": len(v.sessions),
                "prefixes_received": sum(s.pfx_rcvd for s in v.sessions.values()),
                "bgp_routes": len(bgp),
                "max_ecmp": max(bgp, default=0),
                "routes": len(v.routes),
                "uptime_s": round(min(ups) / 1000, 1) if ups else 0.0,
                "down_sessions": sorted(
                    f"{ip} ({_neighbor_name(layout, host, ip)}): {s.state}"
                    for ip, s in v.sessions.items()
                    if s.state != "Established"
                ),
                "error": v.error,
            }
        )
    return {
        "name": twin.name,
        "state_dir": str(twin.dir),
        "state": rec.get("state", "?"),
        "failures": rec.get("failures", []),
        "switches": rows,
        "vtysh": f"vtysh --vty_socket {twin.dir / 'nodes'}/<switch>",
    }


def _ping_pairs(twin: Twin, layout: lay.Layout, exp: expect.Expected) -> tuple[dict, dict, dict]:
    """Switch pairs (loopback to loopback) and server pairs (NIC to NIC), each with whether it
    must answer. Returns (switch pairs, server pairs, labels)."""
    fabric = layout.fabric
    lo = {d.name: d.loopback for d in fabric.iter_devices("leaf")}
    owner = {f"{ip}/32": h for h, ip in lo.items()}
    labels: dict[tuple, str] = {}
    leaf_pairs: dict[tuple, bool] = {}
    for (src, prefix), _ in exp.routes.items():
        if prefix in owner:
            p = (twin.netns(src), lo[src], lo[owner[prefix]])
            leaf_pairs[p] = True
            labels[p] = f"{src} ({lo[src]}) -> {owner[prefix]} ({lo[owner[prefix]]})"
    for (src, prefix), _ in exp.absent.items():
        if prefix in owner:
            p = (twin.netns(src), lo[src], lo[owner[prefix]])
            leaf_pairs[p] = False
            labels[p] = f"{src} ({lo[src]}) -> {owner[prefix]} ({lo[owner[prefix]]})"
    # servers: NIC k of one server to NIC j of another
    nics = []  # (server, nic, ip, its subnet (VLAN or /31), leaf, wire row)
    for w in layout.wires:
        if w.kind == "nic":
            iface = ipaddress.IPv4Interface(layout.nodes[w.a].ports[w.a_port].addrs[0])
            nics.append((w.a, w.a_port, str(iface.ip), str(iface.network), w.b, w.row))
    srv_pairs: dict[tuple, bool] = {}
    for s, sn, sip, _, sleaf, srow in nics:
        for t, tn, tip, tnet, tleaf, trow in nics:
            if s == t:
                continue
            alive = srow not in exp.failed_wires and trow not in exp.failed_wires and sleaf not in exp.failed_devices
            want = alive and (sleaf == tleaf or (sleaf, tnet) in exp.routes)
            p = (twin.netns(s), sip, tip)
            srv_pairs[p] = want
            labels[p] = f"{s}:{sn} ({sip}) -> {t}:{tn} ({tip})"
    return leaf_pairs, srv_pairs, labels


def check(name: str | None = None, root: Path | None = None, dataplane_checks: bool = True) -> dict:
    """Every expectation of the plan (adjusted for what was failed on purpose), pass or fail."""
    _need_root()
    twin = find(state_root(root), name)
    rec = twin.load()
    layout = _layout(twin, rec)
    failures = rec.get("failures", [])
    exp = expect.expected(layout, failures)
    dirs = _node_dirs(twin, layout)
    views = observe.fabric(dirs, {h for h in dirs if layout.nodes[h].role == "leaf"})
    hard = _hard_failed(failures)
    results = _routing_results(layout, exp, views, hard)
    results.insert(1, chk.config_loaded(layout, {h: frr.rejected_lines(d) for h, d in dirs.items() if h not in hard}))
    if dataplane_checks:
        leaf_pairs, srv_pairs, labels = _ping_pairs(twin, layout, exp)
        got = dataplane.ping_all(list(leaf_pairs) + list(srv_pairs))
        results.append(chk.pings("leaf loopback pings", leaf_pairs, got, labels.get))
        if srv_pairs:
            results.append(chk.pings("servers across rails", srv_pairs, got, labels.get))
    events = [e for e in rec.get("events", []) if e.get("action") != "up"]
    return {
        "name": twin.name,
        "ok": chk.all_ok(results),
        "results": [r.to_json() for r in results],
        "failures": failures,
        "last_event": events[-1] if events else None,
        "boot": next((e for e in rec.get("events", []) if e.get("action") == "up"), None),
    }


# -- fail / restore ----------------------------------------------------------------------
def _port_changes(twin: Twin, layout: lay.Layout, rows: set[int], up_: bool) -> dict[str, list[tuple[str, bool]]]:
    changes: dict[str, list[tuple[str, bool]]] = {}
    for w in layout.wires:
        if w.row in rows:
            for host, port in ((w.a, w.a_port), (w.b, w.b_port)):
                if up_ and not layout.nodes[host].ports[port].admin_up:
                    continue
                changes.setdefault(twin.netns(host), []).append((port, up_))
    return changes


def _down_rows(layout: lay.Layout, failures: list[dict]) -> set[int]:
    """Links held down by soft failures (hard failures leave links up: the daemons are dead)."""
    rows = set()
    for f in failures:
        if not f.get("hard"):
            rows |= set(f.get("links", []))
    return rows


def _timeout_for(layout: lay.Layout, hard: bool) -> float:
    hold = max((nb.holdtime_s for n in layout.switches for nb in n.neighbors.values()), default=180)
    return float(hold + 60 if hard else 60)


def fail(
    target: str,
    name: str | None = None,
    root: Path | None = None,
    hard: bool = False,
    wait: bool = True,
    timeout_s: float | None = None,
    progress: Progress | None = None,
) -> dict:
    """Take a link (both ends' carrier down) or a switch (all its links down; `hard`: its
    daemons killed, neighbours wait for the hold timer) down, and time the reconvergence."""
    from tokenfab.names import resolve

    _preflight()
    twin = find(state_root(root), name)
    with twin.locked():
        rec = twin.load()
        layout = _layout(twin, rec)
        ref = resolve(layout.fabric, target)
        booted = {w.row for w in layout.wires}
        if ref.is_device:
            host = ref.devices[0]
            if host not in layout.nodes:
                raise InputError(
                    f"{target!r}: {host} is not booted in twin {twin.name!r} (servers boot with `twin up --servers N`)"
                )
            if hard and not layout.nodes[host].is_switch:
                raise InputError(f"{target!r}: --hard kills a switch's FRR daemons; {host} is a server")
            failure: dict[str, Any] = {
                "target": target,
                "devices": [host],
                "links": sorted(w.row for w in layout.wires_of(host)),
                "hard": hard,
            }
        else:
            if hard:
                raise InputError(f"{target!r}: --hard applies to a switch, not to a link")
            rows = sorted(r for r in ref.links if r in booted)
            if not rows:
                raise InputError(
                    f"{target!r}: that link is not booted in twin {twin.name!r} (a server link needs `twin up --servers N`)"
                )
            failure = {"target": target, "devices": [], "links": rows, "hard": False}
        for f in rec["failures"]:
            if f["devices"] == failure["devices"] and f["links"] == failure["links"]:
                raise InputError(f"{target!r} is failed already (as {f['target']!r}); `tokenfab twin restore {f['target']}`")
        failure["at"] = time.time()
        if hard:
            host = failure["devices"][0]
            netns.silence(twin.netns(host), True)
            frr.wait_gone(frr.kill(twin.node_dir(host), sig=signal.SIGKILL))
        else:
            netns.set_ports(_port_changes(twin, layout, set(failure["links"]) - _down_rows(layout, rec["failures"]), False))
        rec["failures"].append(failure)
        event = {
            "action": "fail",
            "target": target,
            "hard": hard,
            "at": failure["at"],
            "links": [layout.fabric.link(r).id for r in failure["links"]],
        }
        rec["events"].append(event)
        twin.save(rec)
    return _settle(twin, layout, rec["failures"], event, wait, timeout_s or _timeout_for(layout, hard), progress)


def restore(
    target: str | None = None,
    name: str | None = None,
    root: Path | None = None,
    wait: bool = True,
    timeout_s: float | None = None,
    progress: Progress | None = None,
) -> dict:
    """Undo a failure (by the name it was failed with, or any name of the same link/switch);
    without a target, undo them all."""
    from tokenfab.names import resolve

    _preflight()
    twin = find(state_root(root), name)
    with twin.locked():
        rec = twin.load()
        layout = _layout(twin, rec)
        failures = rec["failures"]
        if target is None:
            chosen = list(failures)
        else:
            ref = resolve(layout.fabric, target)
            chosen = [
                f
                for f in failures
                if f["target"] == target
                or (ref.is_device and f["devices"] == [ref.devices[0]])
                or (not ref.is_device and not f["devices"] and set(f["links"]) <= set(ref.links))
            ]
        if not chosen:
            active = ", ".join(f["target"] for f in failures) or "none"
            raise InputError(f"nothing to restore for {target!r}; failed now: {active}")
        remaining = [f for f in failures if f not in chosen]
        hard_left = _hard_failed(remaining)
        restart = sorted({d for f in chosen if f["hard"] for d in f["devices"]} - hard_left)
        up_rows = _down_rows(layout, chosen) - _down_rows(layout, remaining)
        at = time.time()
        netns.set_ports(_port_changes(twin, layout, up_rows, True))
        for host in restart:
            netns.silence(twin.netns(host), False)
        if restart:
            _start_daemons(twin, restart)
        rec["failures"] = remaining
        event = {"action": "restore", "target": target or "all", "at": at, "restored": [f["target"] for f in chosen]}
        rec["events"].append(event)
        twin.save(rec)
    hard = any(f["hard"] for f in chosen)
    return _settle(twin, layout, remaining, event, wait, timeout_s or _timeout_for(layout, hard), progress)


def _settle(twin, layout, failures, event, wait, timeout_s, progress) -> dict:
    report = {"name": twin.name, "event": event, "failures": failures}
    if not wait:
        return report
    c = converge(twin, layout, failures, event["at"], timeout_s, progress)
    event.update(converged_s=None if c.seconds is None else round(c.seconds, 2), poll_s=round(c.poll_s, 2))
    with twin.locked():
        rec = twin.load()
        for e in rec["events"]:
            if e["at"] == event["at"] and e["action"] == event["action"]:
                e.update(converged_s=event["converged_s"], poll_s=event["poll_s"])
        twin.save(rec)
    report.update(
        converged=c.ok, converged_s=event["converged_s"], poll_s=event["poll_s"], results=[r.to_json() for r in c.results]
    )
    return report


# -- down --------------------------------------------------------------------------------
def _our_processes(twin: Twin) -> list[int]:
    """FRR daemons started with a config file inside this twin's node folders (pid files can be
    missing after a kill -9 in the middle of `up`). Anything else, say a `tail -f` on one of our
    logs, is not ours to kill."""
    daemons = {str(frr.FRR_DIR / d) for d in frr.DAEMONS}
    prefix = f"{twin.dir}/nodes/".encode()
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if os.readlink(p / "exe") not in daemons:
                    continue
                args = p.joinpath("cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(a.startswith(prefix) and a.endswith(b"/frr.conf") for a in args):
                pids.append(int(p.name))
    return pids


def down(name: str | None = None, root: Path | None = None) -> dict:
    """Remove every namespace, link and process the twin created; works on what a crash left."""
    _need_root()
    return _teardown(find(state_root(root), name))


def _teardown(twin: Twin) -> dict:
    with twin.locked():
        rec = twin.load()
        pids = [pid for d in twin.node_dirs() for pid in frr.kill(d)]
        for pid in _our_processes(twin):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                    pids.append(pid)
                except ProcessLookupError:
                    pass
        stuck = frr.wait_gone(pids)
        recorded = rec.get("namespaces", {})
        ours: list[str] = []
        foreign: list[str] = []
        for ns in twin.ledger_namespaces():
            ino = netns.inode(ns)
            if not ino:
                continue
            (foreign if recorded.get(ns) and recorded[ns] != ino else ours).append(ns)
        netns.delete_namespaces(ours)
        left = [ns for ns in ours if netns.exists(ns)]
        if left or stuck:
            raise TwinError(
                f"twin {twin.name}: could not remove namespaces {left[:3]} / processes {stuck[:3]}; state kept in {twin.dir}"
            )
        restored = hostlimits.release(twin.dir)
        shutil.rmtree(twin.dir)
    return {
        "name": twin.name,
        "namespaces_removed": len(ours),
        "processes_killed": len(set(pids)),
        "skipped_foreign_namespaces": foreign,
        "neigh_limits_restored": restored,
    }


def down_all(root: Path | None = None) -> list[dict]:
    r = state_root(root)
    return [down(n, r) for n in list_twins(r)]
