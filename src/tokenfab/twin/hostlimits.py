"""Host-wide neighbour (ARP/ND) table limits.

`net.ipv{4,6}.neigh.default.gc_thresh{1,2,3}` are global across all namespaces and only exist in
the initial one. With a few hundred veth links the defaults (128/512/1024) overflow: the kernel
logs "neighbor table overflow", pings fail with ENOBUFS and BGP sessions never come up. The
first twin raises them and records the old values; the last twin going down restores them.
The register of holders (twin state directories) lives in /run/tokenfab, one per host.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REGISTER = Path(os.environ.get("TOKENFAB_HOST_STATE", "/run/tokenfab")) / "neigh-limits.json"
RAISED = {"gc_thresh1": 4096, "gc_thresh2": 16384, "gc_thresh3": 32768}
KEYS = [f"net.{fam}.neigh.default.{k}" for fam in ("ipv4", "ipv6") for k in RAISED]


def _proc(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read(key: str) -> int:
    return int(_proc(key).read_text().split()[0])


def _write(key: str, value: int) -> None:
    _proc(key).write_text(f"{value}\n")


@contextmanager
def _locked() -> Iterator[dict]:
    REGISTER.parent.mkdir(parents=True, exist_ok=True)
    with open(REGISTER.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            reg = json.loads(REGISTER.read_text()) if REGISTER.exists() else {}
        except json.JSONDecodeError:
            reg = {}
        yield reg
        if reg.get("holders"):
            tmp = REGISTER.with_suffix(".tmp")
            tmp.write_text(json.dumps(reg, indent=1, sort_keys=True) + "\n")
            os.replace(tmp, REGISTER)
        elif REGISTER.exists():
            REGISTER.unlink()


def _prune(reg: dict) -> None:
    """Drop holders whose state directory is gone (a twin removed by hand or by a reboot)."""
    reg["holders"] = sorted(h for h in reg.get("holders", []) if Path(h).is_dir())


def acquire(holder: Path) -> dict[str, int]:
    """Raise the limits (never lower them) for `holder`; returns the values now in force."""
    with _locked() as reg:
        _prune(reg)
        if not reg.get("holders"):
            reg["original"] = {k: read(k) for k in KEYS}
        reg["holders"] = sorted(set(reg["holders"]) | {str(holder)})
        for key in KEYS:
            want = RAISED[key.rsplit(".", 1)[1]]
            if read(key) < want:
                _write(key, want)
        return {k: read(k) for k in KEYS}


def release(holder: Path) -> dict[str, int] | None:
    """Forget `holder`; when no twin holds the limits any more, restore the recorded values.
    Returns the restored values, or None while other twins still run."""
    with _locked() as reg:
        if not reg:
            return None
        reg["holders"] = [h for h in reg.get("holders", []) if h != str(holder)]
        _prune(reg)
        if reg["holders"]:
            return None
        original = reg.get("original", {})
        for key in KEYS:
            if key in original:
                _write(key, int(original[key]))
        return {k: int(v) for k, v in original.items()}
