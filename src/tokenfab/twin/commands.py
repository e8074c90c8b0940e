"""`tokenfab twin up|status|check|fail|restore|down`: the verbs on the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from tokenfab.clikit import console, fail, show

twin_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Boot configure's output with real FRR in network namespaces, check it, break it on purpose.",
)

NAME = typer.Option(None, "--name", help="the twin (default: the fabric's name for `up`, else the only running twin)")
STATE = typer.Option(None, "--state-dir", help="state folder of all twins (default /run/tokenfab/twins or $TOKENFAB_TWIN_STATE)")
JSON = typer.Option(False, "--json", help="print JSON for machines")


@contextmanager
def _errors() -> Iterator[None]:
    from tokenfab.errors import InputError
    from tokenfab.twin.api import TwinError

    try:
        yield
    except InputError as exc:
        fail(str(exc), 2)
    except TwinError as exc:
        fail(str(exc), 1)


@contextmanager
def _progress(enabled: bool = True):
    """A rich progress bar fed by the twin's (phase, done, total) callbacks."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def tick(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield tick


def _print_results(results: list[dict]) -> None:
    for r in results:
        mark = "[green]PASS[/]" if r["ok"] else "[bold red]FAIL[/]"
        console.print(f"{mark} {r['name']}: {r['summary']}", highlight=False, soft_wrap=True)
        for p in r["problems"]:
            console.print(f"     - {p}", highlight=False, soft_wrap=True)
        if r["total_problems"] > len(r["problems"]):
            console.print(f"     ... and {r['total_problems'] - len(r['problems'])} more", highlight=False)


def _converged_line(report: dict, what: str) -> None:
    if report.get("converged"):
        console.print(
            f"{what}: converged in [bold]{report['converged_s']:.2f} s[/] "
            f"(measured by polling every switch; one poll takes {report['poll_s']:.2f} s)",
            highlight=False,
        )
    elif "converged" in report:
        console.print(f"[bold red]{what}: not converged before the timeout[/]", highlight=False)


@twin_app.command("up")
def up_cmd(
    out: Path = typer.Argument(..., help="configure's output folder (fabric.json + configs/<hostname>/)"),
    name: str | None = NAME,
    servers: int = typer.Option(0, "--servers", help="also boot this many servers (one namespace each, a NIC per rail)"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait until the twin has converged"),
    timeout: float = typer.Option(300.0, "--timeout", help="seconds to wait for convergence"),
    state_dir: Path | None = STATE,
    as_json: bool = JSON,
) -> None:
    """Boot every switch of OUT in its own namespace with zebra + bgpd and the generated configs."""
    from tokenfab.numbers import MAX_WAIT_S, check
    from tokenfab.twin import api

    with _errors(), _progress(not as_json) as tick:
        check(timeout, "--timeout", 0, MAX_WAIT_S, lo_open=True, unit="s", desc="seconds to wait")
        check(servers, "--servers", 0, desc="a number of servers")
        report = api.up(out, name, servers, state_dir, wait, timeout, tick)
    if as_json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        console.print(
            f"twin [bold]{report['name']}[/]: {report['switches']} switches, {report['servers']} servers, "
            f"{report['links']} links, {report['sessions']} BGP sessions, {report['daemons']} FRR daemons "
            f"(state in {report['state_dir']})",
            highlight=False,
        )
        console.print(
            f"namespaces+links+addresses {report['setup_s']:.2f} s, FRR started at {report['daemons_s']:.2f} s, "
            f"daemons' memory {report['daemon_rss_bytes'] / 2**20:.0f} MiB",
            highlight=False,
        )
        _converged_line(report, "boot")
        if report.get("converged") is False:
            _print_results(report["results"])
    if report.get("converged") is False:
        raise typer.Exit(1)


@twin_app.command("status")
def status_cmd(name: str | None = NAME, state_dir: Path | None = STATE, as_json: bool = JSON) -> None:
    """Per switch: daemons, BGP sessions (state, uptime, prefixes) and routes."""
    from rich.table import Table

    from tokenfab.twin import api

    with _errors():
        st = api.status(name, state_dir)
    if as_json:
        print(json.dumps(st, indent=1, sort_keys=True))
        return
    t = Table(title=f"twin {st['name']} ({st['state']})")
    for col in (
        "switch",
        "role",
        "daemons",
        "sessions up",
        "prefixes rcvd",
        "BGP routes",
        "max ECMP",
        "uptime s",
        "down sessions",
    ):
        t.add_column(col, justify="left" if col in ("switch", "role", "down sessions") else "right")
    for r in st["switches"]:
        daemons = (
            "ok"
            if r["zebra"] and r["bgpd"]
            else ("zebra " if not r["zebra"] else "") + ("bgpd " if not r["bgpd"] else "") + "dead"
        )
        down = ", ".join(r["down_sessions"][:3]) + (f" +{len(r['down_sessions']) - 3}" if len(r["down_sessions"]) > 3 else "")
        t.add_row(
            r["switch"],
            r["role"],
            daemons,
            f"{r['sessions_established']}/{r['sessions']}",
            str(r["prefixes_received"]),
            str(r["bgp_routes"]),
            str(r["max_ecmp"]),
            f"{r['uptime_s']:.0f}",
            down,
        )
    show(t, "switch")
    for f in st["failures"]:
        console.print(f"failed: {f['target']}{' (hard)' if f['hard'] else ''}", highlight=False)
    console.print(f"inspect a switch: {st['vtysh']} -c 'show bgp summary'", highlight=False)


@twin_app.command("check")
def check_cmd(
    name: str | None = NAME,
    state_dir: Path | None = STATE,
    as_json: bool = JSON,
    ping: bool = typer.Option(True, "--ping/--no-ping", help="also send ICMP echoes between loopbacks and servers"),
) -> None:
    """Check the plan's expectations: sessions, ECMP widths, reachability; exit 0 only if all hold."""
    from tokenfab.twin import api

    with _errors():
        report = api.check(name, state_dir, ping)
    if as_json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        boot = report.get("boot") or {}
        if boot.get("converged_s") is not None:
            console.print(f"boot converged in {boot['converged_s']:.2f} s", highlight=False)
        for f in report["failures"]:
            console.print(f"failed on purpose: {f['target']}{' (hard)' if f['hard'] else ''}", highlight=False)
        e = report.get("last_event")
        if e:
            took = (
                f"reconverged in {e['converged_s']:.2f} s (poll {e.get('poll_s', 0):.2f} s)"
                if e.get("converged_s") is not None
                else "reconvergence not measured"
            )
            console.print(f"last change: {e['action']} {e['target']}: {took}", highlight=False)
        _print_results(report["results"])
    if not report["ok"]:
        raise typer.Exit(1)


def _change(action: str, target: str | None, name, state_dir, wait, timeout, as_json, **kw) -> None:
    from tokenfab.numbers import MAX_WAIT_S, check
    from tokenfab.twin import api

    fn: Callable[..., dict] = api.fail if action == "fail" else api.restore
    with _errors(), _progress(not as_json and wait) as tick:
        if timeout is not None:
            check(timeout, "--timeout", 0, MAX_WAIT_S, lo_open=True, unit="s", desc="seconds to wait")
        report = fn(target, name, state_dir, wait=wait, timeout_s=timeout, progress=tick, **kw)
    if as_json:
        print(json.dumps(report, indent=1, sort_keys=True))
    else:
        e = report["event"]
        if e.get("hard"):
            what = ": FRR killed, namespace silenced, links stay up (neighbours wait for the hold timer)"
        elif "links" in e:
            what = f": {len(e['links'])} link(s) down on both ends"
        else:
            what = f": {', '.join(e['restored'])} back"
        console.print(f"{action} {e['target']}{what}", highlight=False)
        _converged_line(report, action)
        if report.get("converged") is False:
            _print_results(report["results"])
    if report.get("converged") is False:
        raise typer.Exit(1)


@twin_app.command("fail")
def fail_cmd(
    target: str = typer.Argument(..., help="a link (leaf-r1-1:Ethernet256, leaf-r1-1--spine-1) or a switch (spine-1)"),
    hard: bool = typer.Option(False, "--hard", help="kill the switch's FRR daemons instead (neighbours wait for the hold timer)"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait for reconvergence and time it"),
    timeout: float | None = typer.Option(None, "--timeout", help="seconds (default 60, or hold time + 60 with --hard)"),
    name: str | None = NAME,
    state_dir: Path | None = STATE,
    as_json: bool = JSON,
) -> None:
    """Take a link or a switch down on purpose and time the reconvergence."""
    _change("fail", target, name, state_dir, wait, timeout, as_json, hard=hard)


@twin_app.command("restore")
def restore_cmd(
    target: str | None = typer.Argument(None, help="what was failed (default: everything failed)"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait for reconvergence and time it"),
    timeout: float | None = typer.Option(None, "--timeout", help="seconds to wait"),
    name: str | None = NAME,
    state_dir: Path | None = STATE,
    as_json: bool = JSON,
) -> None:
    """Bring a failed link or switch back."""
    _change("restore", target, name, state_dir, wait, timeout, as_json)


@twin_app.command("down")
def down_cmd(
    name: str | None = NAME,
    state_dir: Path | None = STATE,
    all_: bool = typer.Option(False, "--all", help="every twin under the state folder"),
    as_json: bool = JSON,
) -> None:
    """Remove the twin's namespaces, links and processes (also after a crash or kill -9)."""
    from tokenfab.twin import api

    with _errors():
        reports = api.down_all(state_dir) if all_ else [api.down(name, state_dir)]
    if as_json:
        print(json.dumps(reports, indent=1, sort_keys=True))
        return
    for r in reports:
        restored = (
            "restored the host's neighbour-table limits"
            if r["neigh_limits_restored"]
            else "neighbour-table limits kept (other twins run)"
        )
        console.print(
            f"twin {r['name']}: removed {r['namespaces_removed']} namespaces, "
            f"killed {r['processes_killed']} processes; {restored}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(twin_app, name="twin")
