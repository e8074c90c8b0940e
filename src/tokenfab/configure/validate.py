"""`tokenfab validate out/`: every config_db.json against SONiC's YANG models, plus the checks in
checks.py across devices and hosts, plus every frr.conf (it must be what its config_db.json
renders to, and FRR's own parser must accept it when vtysh is installed).

Exit 0 when clean, 1 with the list of violations, 2 when the folder cannot be read as a
configure output (no fabric.json, no configs).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tokenfab.configure import checks, frr, lossless
from tokenfab.configure import hosts as hostmod
from tokenfab.configure.checks import Host, Violation
from tokenfab.design.model import Fabric
from tokenfab.errors import InputError
from tokenfab.fileio import load_json, load_yaml, read_text

CHECKS = ("file", "yang", "platform", "frr", "link", "bgp", "address", "lossless", "ecn", "reach")


@dataclass
class Report:
    folder: str
    switches: int = 0
    hosts: int = 0
    frr_parsed: bool = False
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in CHECKS}
        for v in self.violations:
            out[v.check] = out.get(v.check, 0) + 1
        return out

    def to_json(self) -> dict:
        return {
            "folder": self.folder,
            "ok": self.ok,
            "switches": self.switches,
            "hosts": self.hosts,
            "frr_parsed_with_vtysh": self.frr_parsed,
            "counts": self.counts(),
            "violations": [asdict(v) for v in self.violations],
        }


@dataclass
class Bundle:
    fabric: Fabric
    configs: dict[str, dict]
    frr: dict[str, str]
    hosts: dict[str, Host]
    problems: list[Violation]


def _open(folder: Path) -> Fabric:
    """The plan of a configure output folder, or an InputError saying what the folder lacks."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (expected the output folder of `tokenfab configure`)")
    if not (folder / "fabric.json").exists():
        raise InputError(f"{folder}: no fabric.json; run `tokenfab configure` into this folder first")
    fabric = Fabric.load(folder)
    if not (folder / "configs").is_dir():
        raise InputError(f"{folder}: no configs/ folder; run `tokenfab configure {folder}` first")
    return fabric


def _strays(folder: Path, known: set[str]) -> list[Violation]:
    return [
        Violation("file", d.name, "", "", "", f"configs/{d.name}/ is not a device of the plan")
        for d in sorted((folder / "configs").iterdir())
        if d.is_dir() and d.name not in known
    ]


def load(folder: str | Path) -> Bundle:
    """Every file of a configure output folder in memory (for small fabrics and tests; validate_folder streams)."""
    folder = Path(folder)
    fabric = _open(folder)
    problems: list[Violation] = []
    configs, frr_text, host_data = {}, {}, {}
    names = fabric.devices["name"].tolist()
    for name, role in zip(names, fabric.devices["role"].tolist()):
        if role == "server":
            h = _load_host(folder / "hosts" / name, name, problems)
            if h is not None:
                host_data[name] = h
            continue
        cfg, text = _read_switch(folder, name, problems)
        if cfg is not None:
            configs[name] = cfg
        if text is not None:
            frr_text[name] = text
    return Bundle(fabric, configs, frr_text, host_data, problems + _strays(folder, set(names)))


def _load_host(path: Path, name: str, problems: list[Violation]) -> Host | None:
    for file in ("netplan.yaml", "roce.sh"):
        if not (path / file).exists():
            problems.append(Violation("file", name, "", "", "", f"missing host file: {path / file}"))
            return None
    try:
        plan = load_yaml(path / "netplan.yaml", "netplan")
        script = read_text(path / "roce.sh", "roce.sh")
    except InputError as exc:
        problems.append(Violation("file", name, "netplan", "", "", str(exc)))
        return None
    addrs, gws, mtu = {}, {}, {}
    eths = (((plan or {}).get("network") or {}).get("ethernets") or {}) if isinstance(plan, dict) else {}
    for nic, e in eths.items():
        e = e or {}
        if e.get("addresses"):
            addrs[nic] = str(e["addresses"][0])
        vias = [r.get("via") for r in e.get("routes", []) if r.get("via")]
        if vias:
            gws[nic] = vias[0]
        mtu[nic] = int(e.get("mtu", 1500))
    return Host(addrs, gws, mtu, hostmod.parse_script_vars(script))


# The tables the checks across devices read (links, bgp, addresses, lossless, reach); the rest of a
# config is checked where it is read, so validate never holds a whole fabric's configs at once.
SHARED_TABLES = (
    "DEVICE_METADATA",
    "DEVICE_NEIGHBOR",
    "INTERFACE",
    "LOOPBACK_INTERFACE",
    "VLAN_INTERFACE",
    "MGMT_INTERFACE",
    "VLAN_MEMBER",
    "BGP_NEIGHBOR",
)
SHARED_PORT_FIELDS = ("speed", "fec", "mtu", "admin_status")
VTYSH_THREADS = 2  # batches of frr.conf checked at once (the main-process path, which has no workers)
FRR_BATCH = 16  # frr.conf files per vtysh --dryrun
SWITCHES_PER_TASK = 16
HOSTS_PER_TASK = 256


@dataclass
class SwitchResult:
    """One switch checked on its own, and what the checks across devices need from it."""

    name: str
    violations: list[Violation]
    shared: dict  # SHARED_TABLES, and PORT with SHARED_PORT_FIELDS only
    qos: dict[str, lossless.PortQos]  # active port -> its QoS maps and PFC
    advertised: list[str]  # prefixes its frr.conf originates


def switch_checks(
    name: str, model: str, cfg: dict, frr_text: str | None, yang_validator=None, frr_complaints: list[str] | None = None
) -> SwitchResult:
    """Every check that needs one switch's files only: SONiC YANG, frr.conf against what its
    config_db.json renders (and FRR's own complaints, parsed beforehand), platform, lossless
    buffers and ECN."""
    found: list[Violation] = []
    if yang_validator is not None:
        found += [Violation("yang", name, e.table, e.key, e.field, e.message) for e in yang_validator.validate(cfg)]
    advertised: list[str] = []
    if frr_text is not None:
        advertised = frr.advertised(frr_text)
        try:
            expected = frr.render_frr(cfg)
        except (KeyError, ValueError, TypeError) as exc:
            expected = None
            found.append(Violation("frr", name, "frr.conf", "", "", f"cannot render FRR from config_db.json: {exc!r}"))
        if expected is not None and expected != frr_text:
            found.append(
                Violation(
                    "frr",
                    name,
                    "frr.conf",
                    "",
                    "",
                    "differs from what its config_db.json renders (bgpcfgd semantics); re-run tokenfab configure",
                )
            )
        for line in (frr_complaints or [])[:5]:
            found.append(Violation("frr", name, "frr.conf", "", "", f"FRR rejects: {line}"))
    found += checks.platform(name, model, cfg)
    qos, unpaused = lossless.switch_qos(name, cfg)
    found += unpaused + lossless.ecn({name: cfg})
    shared = {t: cfg[t] for t in SHARED_TABLES if t in cfg}
    shared["PORT"] = {
        p: {f: row[f] for f in SHARED_PORT_FIELDS if f in row} for p, row in cfg.get("PORT", {}).items() if isinstance(row, dict)
    }
    return SwitchResult(name, found, shared, qos, advertised)


def _frr_complaints(texts: dict[str, str]) -> dict[str, list[str]]:
    """FRR's complaints about each frr.conf: batches of files per `vtysh --dryrun` (its start-up
    is most of a check), a few batches at once."""
    names = list(texts)
    batches = [{n: texts[n] for n in names[i : i + FRR_BATCH]} for i in range(0, len(names), FRR_BATCH)]
    if len(batches) == 1:
        return frr.check_many_with_frr(batches[0])
    out: dict[str, list[str]] = {}
    with ThreadPoolExecutor(max_workers=VTYSH_THREADS) as pool:
        for found in pool.map(frr.check_many_with_frr, batches):
            out.update(found)
    return out


def fabric_checks(fabric: Fabric, results: dict[str, SwitchResult], hosts: dict[str, Host]) -> list[Violation]:
    """The checks across devices, over what each switch shared."""
    shared = {n: r.shared for n, r in results.items()}
    qos = {(n, port): q for n, r in results.items() for port, q in r.qos.items()}
    advertised = {n: r.advertised for n, r in results.items()}
    out = checks.links(fabric, shared, hosts)
    out += checks.bgp(shared)
    out += checks.addresses(shared, hosts)
    out += lossless.lossless_fabric(qos, shared, hosts)
    out += checks.reach(fabric, shared, advertised, hosts)
    return out


def _in_check_order(violations: list[Violation]) -> list[Violation]:
    order = {c: i for i, c in enumerate(CHECKS)}
    return sorted(violations, key=lambda v: order.get(v.check, len(order)))  # stable: per device within a check


def check(
    bundle: Bundle, progress: Callable[[int, int, str], None] | None = None, check_frr: bool = True, yang: bool = True
) -> tuple[list[Violation], bool]:
    """All checks on loaded files; returns (violations, whether vtysh parsed the frr.conf files)."""
    from tokenfab.configure.yang import validator

    tick = progress or (lambda *_: None)
    fab = bundle.fabric
    model = dict(zip(fab.devices["name"].tolist(), fab.devices["model"].tolist()))
    names = sorted(bundle.configs, key=lambda n: fab.index[n])
    v = validator() if yang else None
    use_vtysh = check_frr and frr.vtysh() is not None
    complaints = _frr_complaints({n: bundle.frr[n] for n in names if n in bundle.frr}) if use_vtysh else {}
    results = {}
    for i, n in enumerate(names):
        results[n] = switch_checks(n, model.get(n, ""), bundle.configs[n], bundle.frr.get(n), v, complaints.get(n))
        tick(i + 1, len(names) + 1, n)
    tick(len(names), len(names) + 1, "fabric-wide checks")
    out = list(bundle.problems) + [x for r in results.values() for x in r.violations]
    out += fabric_checks(fab, results, bundle.hosts)
    tick(len(names) + 1, len(names) + 1, "done")
    return _in_check_order(out), use_vtysh


# -- streaming, in worker processes ------------------------------------------------------------
def _read_switch(folder: Path, name: str, problems: list[Violation]) -> tuple[dict | None, str | None]:
    path = folder / "configs" / name / "config_db.json"
    cfg = text = None
    if not path.exists():
        problems.append(Violation("file", name, "", "", "", f"missing {path.relative_to(folder)}"))
    else:
        try:  # the guarded reader: an edited file is a violation, never a traceback
            cfg = load_json(path, "config_db.json")
            if not isinstance(cfg, dict):
                raise InputError(f"{path.relative_to(folder)}: top level is not an object")
        except InputError as exc:
            problems.append(Violation("file", name, "", "", "", str(exc)))
            cfg = None
    frr_path = folder / "configs" / name / "frr.conf"
    if not frr_path.exists():
        problems.append(Violation("file", name, "", "", "", f"missing configs/{name}/frr.conf"))
    else:
        try:
            text = read_text(frr_path, "frr.conf")
        except InputError as exc:
            problems.append(Violation("file", name, "", "", "", str(exc)))
    return cfg, text


def _switch_task(
    folder: Path, switches: list[tuple[str, str]], use_vtysh: bool, layers: tuple = ()
) -> tuple[list[SwitchResult], list[Violation]]:
    """Read and check a few switches (in a worker, under the catalog the fabric was planned with):
    only their shared tables travel back."""
    from tokenfab.catalog import use_catalog

    with use_catalog(layers):
        return _check_switches(folder, switches, use_vtysh)


def _check_switches(folder: Path, switches: list[tuple[str, str]], use_vtysh: bool) -> tuple[list[SwitchResult], list[Violation]]:
    from tokenfab.configure.yang import validator

    problems: list[Violation] = []
    files = {name: _read_switch(folder, name, problems) for name, _ in switches}
    complaints = _frr_complaints({n: t for n, (c, t) in files.items() if t is not None}) if use_vtysh else {}
    results = [
        switch_checks(name, model, cfg, files[name][1], validator(), complaints.get(name))
        for name, model in switches
        if (cfg := files[name][0]) is not None
    ]
    return results, problems


def _host_task(folder: Path, names: list[str]) -> tuple[dict[str, Host], list[Violation]]:
    problems: list[Violation] = []
    hosts = {}
    for name in names:
        h = _load_host(folder / "hosts" / name, name, problems)
        if h is not None:
            hosts[name] = h
    return hosts, problems


def _shared_qos(output: tuple, same: dict) -> tuple:
    """One object per distinct port QoS across the fabric, as results arrive (each worker's batch
    arrives with its own copies; 100k ports hold a handful of distinct ones)."""
    found, _ = output
    if isinstance(found, list):
        for r in found:
            r.qos = {port: same.setdefault(q, q) for port, q in r.qos.items()}
    return output


def validate_folder(
    folder: str | Path,
    progress: Callable[[int, int, str], None] | None = None,
    check_frr: bool = True,
    workers: int | None = None,
) -> Report:
    """Validate a configure output folder, reading and checking switches in `workers` processes
    (default: one per core), each holding a few configs at a time."""
    folder = Path(folder)
    fabric = _open(folder)
    names, roles, models = (fabric.devices[c].tolist() for c in ("name", "role", "model"))
    switches = [(n, m) for n, r, m in zip(names, roles, models) if r != "server"]
    servers = [n for n, r in zip(names, roles) if r == "server"]
    stray = _strays(folder, set(names))
    use_vtysh = check_frr and frr.vtysh() is not None
    from tokenfab.catalog import active_layers

    layers = active_layers()  # the fabric's own catalog (Fabric.load made it the one in force): workers get it too
    tasks = [
        (_switch_task, (folder, switches[i : i + SWITCHES_PER_TASK], use_vtysh, layers), SWITCHES_PER_TASK)
        for i in range(0, len(switches), SWITCHES_PER_TASK)
    ] + [(_host_task, (folder, servers[i : i + HOSTS_PER_TASK]), 0) for i in range(0, len(servers), HOSTS_PER_TASK)]
    total = len(switches) + 1
    tick = progress or (lambda *_: None)
    workers = max(1, workers or os.cpu_count() or 1)
    done = 0
    outputs: list = [None] * len(tasks)
    same: dict = {}
    if workers == 1 or len(switches) <= SWITCHES_PER_TASK:
        for i, (fn, args, n) in enumerate(tasks):
            outputs[i] = _shared_qos(fn(*args), same)
            done = min(done + n, len(switches))
            tick(done, total, f"{done} switches")
    else:
        # spawn: a forked child could inherit a lock held by another thread (the progress bar's)
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(fn, *args): (i, n) for i, (fn, args, n) in enumerate(tasks)}
            for fut in as_completed(futures):
                i, n = futures[fut]
                outputs[i] = _shared_qos(fut.result(), same)
                done = min(done + n, len(switches))
                tick(done, total, f"{done} switches")
    results: dict[str, SwitchResult] = {}
    hosts: dict[str, Host] = {}
    problems: list[Violation] = []
    for (fn, _, _), (found, probs) in zip(tasks, outputs):
        if fn is _switch_task:
            results.update((r.name, r) for r in found)
        else:
            hosts.update(found)
        problems += probs
    tick(len(switches), total, "fabric-wide checks")
    violations = problems + stray + [v for r in results.values() for v in r.violations]
    violations += fabric_checks(fabric, results, hosts)
    tick(total, total, "done")
    return Report(str(folder), len(results), len(hosts), use_vtysh, _in_check_order(violations))


def render(console, report: Report) -> None:
    from rich.table import Table

    counts = report.counts()
    t = Table(title=f"validate {report.folder}: {report.switches} switches, {report.hosts} hosts")
    t.add_column("check")
    t.add_column("violations", justify="right")
    for c in CHECKS:
        t.add_row(c + (" (vtysh)" if c == "frr" and report.frr_parsed else ""), str(counts.get(c, 0)))
    console.print(t)
    if report.ok:
        console.print("[bold green]clean[/]: every config_db.json matches SONiC's YANG models and the fabric-wide checks pass")
        return
    shown = report.violations[:200]
    for v in shown:
        console.print(f"[red]{v.check}[/] {v.where()}: {v.message}", highlight=False, soft_wrap=True)
    if len(report.violations) > len(shown):
        console.print(f"... and {len(report.violations) - len(shown)} more (use --json for all)")
