"""Compare what the twin shows with what the plan expects: each expectation passes or fails, and
a failure names the session, route or pair that is wrong."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from tokenfab.twin.expect import BY_DESIGN, Expected
from tokenfab.twin.layout import Layout
from tokenfab.twin.observe import NodeView

SHOWN = 12  # problems listed per check (the count says how many there are)


@dataclass
class Result:
    name: str
    ok: bool
    summary: str
    problems: list[str] = field(default_factory=list)
    total_problems: int = 0

    def to_json(self) -> dict:
        return asdict(self)


def _result(name: str, summary: str, problems: list[str]) -> Result:
    return Result(name, not problems, summary, problems[:SHOWN], len(problems))


def daemons(layout: Layout, exp: Expected, views: dict[str, NodeView], hard_failed: set[str]) -> Result:
    problems = []
    n = 0
    for node in layout.switches:
        if node.host in hard_failed:
            continue
        n += 1
        v = views[node.host]
        dead = [d for d, up in (("zebra", v.zebra), ("bgpd", v.bgpd)) if not up]
        if dead:
            problems.append(f"{node.host}: {' and '.join(dead)} not running")
        elif v.error:
            problems.append(f"{node.host}: {v.error}")
    note = f" ({len(hard_failed)} killed on purpose)" if hard_failed else ""
    return _result("daemons", f"zebra and bgpd answer on {n - len(problems)} of {n} switches{note}", problems)


def config_loaded(layout: Layout, rejected: dict[str, list[tuple[int, str, str]]]) -> Result:
    problems = [
        f"{host} frr.conf line {n}: `{text}` accepted by neither zebra nor bgpd ({why})"
        for host, lines in sorted(rejected.items())
        for n, text, why in lines
    ]
    bad = sum(1 for v in rejected.values() if v)
    return _result("frr.conf loaded", f"{len(rejected) - bad} of {len(rejected)} running switches loaded every line", problems)


def _peer(layout: Layout, host: str, ip: str) -> str:
    nb = layout.nodes[host].neighbors[ip]
    return f"{host} -> {ip} ({nb.name or '?'}, AS {nb.asn})"


def sessions(layout: Layout, exp: Expected, views: dict[str, NodeView]) -> Result:
    problems = []
    up = 0
    for host, ip in sorted(exp.established):
        s = views[host].sessions.get(ip)
        if s is None:
            problems.append(f"{_peer(layout, host, ip)}: not configured in FRR (config_db.json has it)")
        elif s.state != "Established":
            problems.append(
                f"{_peer(layout, host, ip)}: {s.state}, never Established"
                if not s.uptime_ms
                else f"{_peer(layout, host, ip)}: {s.state}"
            )
        else:
            up += 1
    for host, ip in sorted(exp.down):
        s = views[host].sessions.get(ip)
        if s is not None and s.state == "Established":
            problems.append(f"{_peer(layout, host, ip)}: still Established although its link or peer is failed")
    configured = len(exp.established) + len(exp.down)
    if configured != 2 * exp.sessions_planned:
        problems.insert(0, f"the configs hold {configured / 2:g} sessions, the plan {exp.sessions_planned}")
    down = f", {len(exp.down) // 2} down with the failed links/switches" if exp.down else ""
    return _result(
        "bgp sessions",
        f"{up // 2} of {len(exp.established) // 2} sessions Established{down} (plan: {exp.sessions_planned})",
        problems,
    )


def routes(layout: Layout, exp: Expected, views: dict[str, NodeView]) -> Result:
    problems = []
    widths: Counter = Counter()
    reduced: dict[str, int] = {}
    for (src, prefix), (width, _dst, label) in sorted(exp.routes.items()):
        got = views[src].routes.get(prefix)
        planned = exp.width_planned.get(src, 0)
        if got is None:
            problems.append(f"{src} -> {prefix} ({label}): no route, expected {width} paths")
        elif got[0] != "bgp" or got[1] != width:
            problems.append(
                f"{src} -> {prefix} ({label}): {got[1]} {got[0]} paths, expected {width}"
                + (f" (planned {planned})" if planned != width else "")
            )
        else:
            widths[width] += 1
            if width < planned:
                reduced[src] = min(width, reduced.get(src, width))
    absent = {k: why for k, why in exp.absent.items() if not why.startswith(BY_DESIGN)}
    problems += _present(views, absent)
    leaves = len({s for s, _ in exp.routes})
    dist = ", ".join(f"{w} paths x {n}" for w, n in sorted(widths.items(), reverse=True)) or "none"
    summary = f"{leaves} leaves, {len(exp.routes)} leaf->prefix routes at the expected ECMP width ({dist})"
    if reduced:
        shown = sorted(reduced.items(), key=lambda hw: (hw[1], hw[0]))[:4]
        summary += (
            (f"; reduced on {len(reduced)} leaves: " if len(reduced) > 4 else "; reduced: ")
            + ", ".join(f"{h} {w} of {exp.width_planned.get(h)}" for h, w in shown)
            + (", ..." if len(reduced) > 4 else "")
        )
    if absent:
        summary += f"; {len(absent)} absent as expected (failed on purpose)"
    return _result("ecmp routes", summary, problems)


def _present(views: dict[str, NodeView], absent: dict[tuple[str, str], str]) -> list[str]:
    out = []
    for (src, prefix), why in sorted(absent.items()):
        got = views[src].routes.get(prefix)
        if got is not None and got[0] == "bgp":
            out.append(f"{src} has a route to {prefix} with {got[1]} paths, expected none ({why})")
    return out


def by_design(layout: Layout, exp: Expected, views: dict[str, NodeView]) -> Result | None:
    """Rail-only (or multi-plane) designs: leaves of different groups must not reach each other."""
    absent = {k: why for k, why in exp.absent.items() if why.startswith(BY_DESIGN)}
    if not absent:
        return None
    why = next(iter(absent.values()))[len(BY_DESIGN) :]
    return _result(
        "unreachable by design", f"{len(absent)} leaf->prefix routes absent as planned ({why})", _present(views, absent)
    )


def pings(name: str, wanted: dict[tuple, bool], got: dict[tuple, bool], label) -> Result:
    """wanted: pair -> must answer (True) or must not (False)."""
    problems = [
        f"{label(p)}: {'no reply' if want else 'replied, expected no path'}"
        for p, want in sorted(wanted.items())
        if got.get(p, False) != want
    ]
    yes = sum(wanted.values())
    no = len(wanted) - yes
    summary = f"{yes} pairs answer" + (f", {no} pairs have no path as expected" if no else "")
    return _result(name, summary, problems)


def all_ok(results: list[Result]) -> bool:
    return all(r.ok for r in results)
