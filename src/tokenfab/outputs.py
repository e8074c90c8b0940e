"""The output folder: written whole or not at all, and never at the cost of someone's files.

Every stage writes into a temporary sibling folder (`.NAME.tmp-PID-XXXX`) and swaps it into place
at the end, so a failure, Ctrl-C or kill -9 leaves the target absent, complete, or the previous
complete version. The swap is one atomic exchange where Linux offers it (renameat2
RENAME_EXCHANGE); elsewhere the old folder is first renamed aside (`.NAME.old-PID-XXXX`) and the
next run puts it back if the process died before the new one was in place. Temporary folders of
dead processes are removed by the next run into the same target (and by `tokenfab doctor`).

A folder tokenfab wrote carries the marker file `.tokenfab-output`; `--force` replaces only an
empty folder or one with the marker. Folders are created with the user's umask.

Layout (each stage documents what it adds):
    out/fabric.json  fabric.schema.json  bom.csv  cabling.csv  ip-plan.csv  topology.svg  summary.txt
    configure (adds to a plan folder, or writes fabric.json itself when given an intent):
    out/configs/<switch>/config_db.json  frr.conf      SONiC CONFIG_DB; FRR rendered from it
    out/configs/buffers.csv                            lossless headroom per port and its source
    out/hosts/<server>/netplan.yaml  roce.sh           NIC addressing per rail; host RoCE settings
    out/ztp/<switch>/ztp.json  out/ztp/dhcpd.conf      ZTP bundle (+ install-frr.sh with p31)
    out/export/containerlab.clab.yml  netbox-{devices,interfaces,cables}.csv
    out/export/lab/<switch>/config_db.json  frr.conf   the lab's switch files on docker-sonic-vs's ports
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tokenfab.errors import InputError

MARKER = ".tokenfab-output"
MARKER_TEXT = "This folder was written by tokenfab; `--force` may replace it as a whole.\n"
_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Stale:
    """A temporary folder left by a process that is gone."""

    path: Path
    target: Path  # the output folder it belonged to
    kind: str  # "tmp" (a new version never swapped in) or "old" (a previous version set aside)

    @property
    def restores(self) -> bool:
        """An old version whose target is missing: the process died between its two renames."""
        return self.kind == "old" and not self.target.exists()


def find_stale(folder: Path, name: str | None = None) -> list[Stale]:
    """Temporary folders in `folder` (for the target `name`, or any) whose process is gone."""
    out = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        m = _SIBLING.match(entry.name)
        if not m or (name is not None and m["name"] != name) or _alive(int(m["pid"])):
            continue
        if entry.is_dir(follow_symlinks=False):
            out.append(Stale(Path(entry.path), Path(folder) / m["name"], m["kind"]))
    return out


def clean_stale(folder: Path, name: str | None = None) -> list[tuple[Stale, str]]:
    """Put back an old version whose target went missing, remove every other stale folder.
    Returns each stale folder with what was done ("restored" or "removed")."""
    done = []
    for s in find_stale(folder, name):
        if s.restores:
            try:
                s.path.rename(s.target)
            except OSError:
                continue
            done.append((s, "restored"))
        else:
            shutil.rmtree(s.path, ignore_errors=True)
            done.append((s, "removed"))
    return done


def check_target(path: str | Path, force: bool = False, keep: bool = False) -> Path:
    """Refuse, before any work starts, an output folder that cannot or may not be written.

    keep=True: a later stage adding to an existing folder (no --force needed)."""
    path = Path(path)
    try:
        resolved = path.resolve()
        cwd = Path.cwd().resolve()
    except (OSError, RuntimeError) as exc:
        raise InputError(f"output folder {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if resolved == cwd or resolved in cwd.parents or resolved.parent == resolved:
        raise InputError(
            f"output folder {path}: it is {'the current folder' if resolved == cwd else 'above the current folder'}; "
            "name a folder of its own (e.g. -o out)"
        )
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise InputError(f"output folder {path} exists and is not a folder")
        empty = not any(path.iterdir())
        if not (force or keep or empty):
            raise InputError(f"output folder {path} exists; pass --force to replace it")
        if force and not keep and not empty and not (path / MARKER).is_file():
            raise InputError(
                f"output folder {path} holds files tokenfab did not write (no {MARKER} marker); "
                "--force replaces only tokenfab's own folders: remove it yourself or choose another"
            )
    parent = resolved.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"output folder {path}: {probe} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        test = parent / f".{resolved.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        test.mkdir()
        test.rmdir()
    except OSError as exc:
        raise InputError(f"output folder {path}: cannot write in {parent} ({exc.strerror or exc})") from None
    return resolved


def written(folder: str | Path) -> list[str]:
    """The files of an output folder tokenfab wrote (paths relative to it, its marker left out), sorted."""
    folder = Path(folder)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def check_file(path: str | Path, what: str) -> Path:
    """Refuse, before any work, an output file that cannot be written (a folder, under a file,
    a folder that cannot be created or written)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path}: is a folder; name a file")
    probe = path.absolute().parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{what} {path}: {probe} is a file, not a folder")
    test = probe / f".{path.name}.probe-{os.getpid()}"
    try:  # a real write: root passes os.access() where /proc or a read-only mount still refuse
        test.touch()
        test.unlink()
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot write in {probe} ({exc.strerror or exc})") from None
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


@contextmanager
def output_dir(path: str | Path, force: bool = False, keep: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `path`.

    keep=True starts from a copy of the existing folder (a later stage adding to a plan folder)."""
    path = Path(path)
    clean_stale(path.absolute().parent, path.name)
    check_target(path, force, keep)
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = path.with_name(f".{path.name}.tmp-{token}")
    try:
        if keep and path.exists():
            shutil.copytree(path, tmp, symlinks=True)
        else:
            tmp.mkdir()  # mode 0o777 less the umask (tempfile.mkdtemp would force 0700)
        yield tmp
        (tmp / MARKER).write_text(MARKER_TEXT)
        if path.exists() and _exchange(tmp, path):
            shutil.rmtree(tmp)  # now the previous version
            return
        _replace(path, tmp, path.with_name(f".{path.name}.old-{token}"))
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"output folder {path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace(path: Path, new: Path, old: Path) -> None:
    """Two renames where no atomic exchange exists. A kill between them leaves `old` aside and
    the next run (clean_stale) renames it back; an error between them puts it back at once."""
    if not path.exists():
        new.rename(path)
        return
    path.rename(old)
    try:
        new.rename(path)
    except BaseException:
        old.rename(path)
        raise
    shutil.rmtree(old)
