"""`tokenfab validate out/`: every config_db.json against SONiC's YANG models, plus the checks in
checks.py across devices and hosts, plus every frr.conf (it must be what its config_db.json
renders to, and FRR's own parser must accept it when vtysh is installed).

Exit 0 when clean, 1 with the list of violations, 2 when the folder cannot be read as a
configure output (no fabric.json, no configs).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from tokenfab.configure import checks, frr, hosts as hostmod
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
        return {"folder": self.folder, "ok": self.ok, "switches": self.switches, "hosts": self.hosts,
                "frr_parsed_with_vtysh": self.frr_parsed, "counts": self.counts(),
                "violations": [asdict(v) for v in self.violations]}


@dataclass
class Bundle:
    fabric: Fabric
    configs: dict[str, dict]
    frr: dict[str, str]
    hosts: dict[str, Host]
    problems: list[Violation]


def load(folder: str | Path) -> Bundle:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (expected the output folder of `tokenfab configure`)")
    if not (folder / "fabric.json").exists():
        raise InputError(f"{folder}: no fabric.json; run `tokenfab configure` into this folder first")
    fabric = Fabric.load(folder)
    if not (folder / "configs").is_dir():
        raise InputError(f"{folder}: no configs/ folder; run `tokenfab configure {folder}` first")
    problems: list[Violation] = []
    configs, frr_text, host_data = {}, {}, {}
    roles = fabric.devices["role"].tolist()
    names = fabric.devices["name"].tolist()
    for name, role in zip(names, roles):
        if role == "server":
            h = _load_host(folder / "hosts" / name, name, problems)
            if h is not None:
                host_data[name] = h
            continue
        path = folder / "configs" / name / "config_db.json"
        if not path.exists():
            problems.append(Violation("file", name, "", "", "", f"missing {path.relative_to(folder)}"))
        else:
            try:  # the guarded reader: an edited file is a violation, never a traceback
                cfg = load_json(path, "config_db.json")
                if not isinstance(cfg, dict):
                    raise InputError(f"{path.relative_to(folder)}: top level is not an object")
                configs[name] = cfg
            except InputError as exc:
                problems.append(Violation("file", name, "", "", "", str(exc)))
        frr_path = folder / "configs" / name / "frr.conf"
        if not frr_path.exists():
            problems.append(Violation("file", name, "", "", "", f"missing configs/{name}/frr.conf"))
        else:
            try:
                frr_text[name] = read_text(frr_path, "frr.conf")
            except InputError as exc:
                problems.append(Violation("file", name, "", "", "", str(exc)))
    known = set(names)
    for d in sorted((folder / "configs").iterdir()):
        if d.is_dir() and d.name not in known:
            problems.append(Violation("file", d.name, "", "", "", f"configs/{d.name}/ is not a device of the plan"))
    return Bundle(fabric, configs, frr_text, host_data, problems)


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


def check(bundle: Bundle, progress: Callable[[int, int, str], None] | None = None, check_frr: bool = True,
          yang: bool = True) -> tuple[list[Violation], bool]:
    """All checks on loaded files; returns (violations, whether vtysh parsed the frr.conf files)."""
    from tokenfab.configure.yang import validator

    tick = progress or (lambda *_: None)
    out = list(bundle.problems)
    fab = bundle.fabric
    model = dict(zip(fab.devices["name"].tolist(), fab.devices["model"].tolist()))
    names = sorted(bundle.configs, key=lambda n: fab.index[n])
    v = validator() if yang else None
    use_vtysh = check_frr and frr.vtysh() is not None
    advertised: dict[str, list[str]] = {}

    def per_device(name: str) -> list[Violation]:
        cfg = bundle.configs[name]
        found = []
        if name in bundle.frr:
            text = bundle.frr[name]
            advertised[name] = frr.advertised(text)
            try:
                expected = frr.render_frr(cfg)
            except (KeyError, ValueError, TypeError) as exc:
                expected = None
                found.append(Violation("frr", name, "frr.conf", "", "", f"cannot render FRR from config_db.json: {exc!r}"))
            if expected is not None and expected != text:
                found.append(Violation("frr", name, "frr.conf", "", "", "differs from what its config_db.json renders "
                                       "(bgpcfgd semantics); re-run tokenfab configure"))
            if use_vtysh:
                for line in frr.check_with_frr(text)[:5]:
                    found.append(Violation("frr", name, "frr.conf", "", "", f"FRR rejects: {line}"))
        found += checks.platform(name, model.get(name, ""), cfg)
        return found

    # vtysh runs in a subprocess, so threads overlap it with the YANG work.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [(n, pool.submit(per_device, n)) for n in names]
        for i, n in enumerate(names):
            if v is not None:
                for e in v.validate(bundle.configs[n]):
                    out.append(Violation("yang", n, e.table, e.key, e.field, e.message))
            tick(i + 1, len(names) + 1, n)
        for n, fut in futures:
            out += fut.result()
    tick(len(names), len(names) + 1, "fabric-wide checks")
    out += checks.links(fab, bundle.configs, bundle.hosts)
    out += checks.bgp(bundle.configs)
    out += checks.addresses(bundle.configs, bundle.hosts)
    out += checks.lossless(bundle.configs, bundle.hosts)
    out += checks.ecn(bundle.configs)
    out += checks.reach(fab, bundle.configs, advertised, bundle.hosts)
    tick(len(names) + 1, len(names) + 1, "done")
    return out, use_vtysh


def validate_folder(folder: str | Path, progress: Callable[[int, int, str], None] | None = None,
                    check_frr: bool = True) -> Report:
    bundle = load(folder)
    violations, parsed = check(bundle, progress, check_frr)
    return Report(str(folder), len(bundle.configs), len(bundle.hosts), parsed, violations)


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
