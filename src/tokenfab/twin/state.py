"""The twin's own records. Everything the twin creates is written here *before* it is created, so
`down` removes exactly that (also after a crash or kill -9) and never looks anything up by name.

    <root>/<twin>/twin.json      what was booted: nodes, namespaces (with inode), failures, events
    <root>/<twin>/ledger         append-only: one line per namespace, written before `ip netns add`
    <root>/<twin>/lock           flock: one command at a time changes a twin
    <root>/<twin>/fabric.json    copy of the plan the twin checks against
    <root>/<twin>/nodes/<host>/  frr.conf, config_db.json (copies), pid files, vty sockets, logs

The root is /run/tokenfab/twins (tmpfs: a reboot clears it together with the namespaces), or
$TOKENFAB_TWIN_STATE, or --state-dir.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tokenfab.errors import InputError

DEFAULT_ROOT = Path("/run/tokenfab/twins")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def state_root(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get("TOKENFAB_TWIN_STATE") or DEFAULT_ROOT)


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InputError(
            f"twin name {name!r}: use 1-32 lowercase letters, digits and '-', starting with a letter or digit", "--name"
        )
    return name


class Twin:
    """One twin's state directory."""

    def __init__(self, root: Path, name: str):
        self.root = Path(root)
        self.name = check_name(name)
        self.dir = self.root / name

    # -- paths ------------------------------------------------------------------------
    @property
    def record_path(self) -> Path:
        return self.dir / "twin.json"

    @property
    def ledger_path(self) -> Path:
        return self.dir / "ledger"

    def node_dir(self, host: str) -> Path:
        return self.dir / "nodes" / host

    def netns(self, host: str) -> str:
        """Namespace of a node: the twin's name keeps twins of different fabrics apart."""
        return f"tf-{self.name}-{host}"

    def exists(self) -> bool:
        return self.dir.exists()

    # -- records ----------------------------------------------------------------------
    def load(self) -> dict:
        try:
            return json.loads(self.record_path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError:
            return {}  # torn write of an earlier crash: the ledger still lists the namespaces

    def save(self, record: dict) -> None:
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.record_path)

    def note_namespaces(self, names: list[str]) -> None:
        """Append to the ledger and fsync before the namespaces exist."""
        with open(self.ledger_path, "a") as f:
            f.writelines(f"netns {n}\n" for n in names)
            f.flush()
            os.fsync(f.fileno())

    def ledger_namespaces(self) -> list[str]:
        try:
            lines = self.ledger_path.read_text().splitlines()
        except FileNotFoundError:
            return []
        seen: dict[str, None] = {}
        for line in lines:
            kind, _, value = line.partition(" ")
            if kind == "netns" and value:
                seen[value] = None
        return list(seen)

    def node_dirs(self) -> list[Path]:
        base = self.dir / "nodes"
        return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def make_node_dir(self, host: str) -> Path:
        d = self.node_dir(host)
        make_dirs(d)
        return d

    @contextmanager
    def locked(self) -> Iterator[None]:
        make_dirs(self.dir)
        with open(self.dir / "lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def make_dirs(path: Path) -> None:
    """Create the missing folders of `path` as rwxr-xr-x whatever the umask: the FRR daemons
    run as user frr and must reach their node folder."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for p in reversed(missing):
        p.mkdir(exist_ok=True)
        os.chmod(p, 0o755)


def list_twins(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and NAME_RE.match(p.name) and ((p / "twin.json").exists() or (p / "ledger").exists())
    )


def find(root: Path, name: str | None) -> Twin:
    """The named twin, or the only one under root."""
    if name:
        twin = Twin(root, name)
        if not twin.exists():
            have = list_twins(root)
            running = f"; running: {', '.join(have)}" if have else "; none is running"
            raise InputError(f"no twin {name!r} under {root}{running}", "--name")
        return twin
    have = list_twins(root)
    if not have:
        raise InputError(f"no twin is running (state directory {root}); start one with `tokenfab twin up OUT`")
    if len(have) > 1:
        raise InputError(f"{len(have)} twins are running ({', '.join(have)}); pick one with --name", "--name")
    return Twin(root, have[0])
