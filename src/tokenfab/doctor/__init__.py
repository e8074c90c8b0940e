"""`tokenfab doctor`: what interrupted runs left behind, and its removal.

Two kinds of leftovers: temporary output folders of runs that were killed (`.NAME.tmp-PID-*`, a
new version never swapped in, or `.NAME.old-PID-*`, a previous version set aside; see
tokenfab.outputs), and twin state directories whose namespaces and FRR daemons are all gone.
Nothing that belongs to a live process or a running twin is ever touched.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tokenfab.outputs import Stale, clean_stale, find_stale


@dataclass(frozen=True)
class Finding:
    kind: str  # "output" | "twin"
    path: Path
    what: str  # people's words for it
    size_bytes: int
    action: str = ""  # what --clean did ("" when only reported)


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _output_finding(s: Stale, action: str = "") -> Finding:
    what = (
        f"previous version of {s.target.name}, set aside by a run that died before the new one was in place"
        if s.kind == "old"
        else f"unfinished output of {s.target.name} from a run that was killed"
    )
    return Finding("output", s.path, what, _size(s.path) if s.path.exists() else 0, action)


def stale_outputs(folders: list[Path], clean: bool = False) -> list[Finding]:
    out = []
    for folder in folders:
        found = {s.path: _output_finding(s) for s in find_stale(folder)}
        if clean:
            for s, action in clean_stale(folder):
                f = found[s.path]
                out.append(
                    Finding(f.kind, f.path, f.what, f.size_bytes, f"restored as {s.target}" if action == "restored" else action)
                )
        else:
            out.extend(found.values())
    return sorted(out, key=lambda f: str(f.path))


def _twin_alive(twin) -> tuple[int, int]:
    """(namespaces that exist, FRR processes that run) of a twin's own records."""
    from tokenfab.twin import frr, netns
    from tokenfab.twin.api import _our_processes

    spaces = sum(1 for ns in twin.ledger_namespaces() if netns.exists(ns))
    procs = sum(1 for d in twin.node_dirs() for daemon in frr.DAEMONS if frr.pid_of(d, daemon))
    return spaces, procs or len(_our_processes(twin))


def orphaned_twins(root: Path, clean: bool = False) -> list[Finding]:
    """Twin state directories under `root` with no namespace and no daemon left."""
    from tokenfab.twin import hostlimits
    from tokenfab.twin.state import Twin, list_twins

    out = []
    for name in list_twins(root):
        twin = Twin(root, name)
        if any(_twin_alive(twin)):
            continue
        action = ""
        if clean:
            with twin.locked():
                if any(_twin_alive(twin)):  # it came up meanwhile
                    continue
                size = _size(twin.dir)
                try:
                    holders = json.loads(hostlimits.REGISTER.read_text()).get("holders", [])
                except (OSError, ValueError):
                    holders = []
                if str(twin.dir) in holders:  # it raised the host's neighbour limits: give them back
                    hostlimits.release(twin.dir)
                shutil.rmtree(twin.dir)
            out.append(Finding("twin", twin.dir, f"state of twin {name!r}: no namespace or FRR daemon left", size, "removed"))
            continue
        out.append(Finding("twin", twin.dir, f"state of twin {name!r}: no namespace or FRR daemon left", _size(twin.dir), action))
    return out


def doctor(folders: list[Path], state_root: Path | None = None, clean: bool = False) -> list[Finding]:
    """Every leftover in `folders` (output temporaries) and under the twin state root."""
    from tokenfab.twin.state import state_root as default_root

    return stale_outputs(folders, clean) + orphaned_twins(default_root(state_root), clean)
