"""Debian's FRR, one zebra + bgpd per switch namespace, all paths under the node's state folder.

Each daemon is started with `ip netns exec NS /usr/lib/frr/<daemon> -d -f frr.conf -i <pid>
-z <zserv> --vty_socket <dir> -P 0`: the integrated frr.conf goes to both daemons (each ignores
the other's lines, logging them), the TCP vty is off, the vty sockets live in the node folder.
Processes are found only through their pid files, and a pid counts as ours only while its
command line still names the node folder (pid reuse after a crash must not kill a stranger).

Queries use the vty socket protocol vtysh itself speaks (command + NUL; reply + "\\0\\0\\0" +
status byte): ~0.2 ms instead of ~30 ms for a vtysh process, which matters when polling 70
switches for convergence. `vtysh --vty_socket <node folder>` works on the same sockets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

FRR_DIR = Path("/usr/lib/frr")
DAEMONS = ("zebra", "bgpd")


class FrrError(RuntimeError):
    pass


def missing() -> str:
    """Why FRR cannot run here ("" when it can)."""
    absent = [str(FRR_DIR / d) for d in DAEMONS if not (FRR_DIR / d).exists()]
    if not shutil.which("vtysh"):
        absent.append("vtysh")
    if absent:
        return f"FRR is not installed ({', '.join(absent)} missing): install Debian's FRR with `apt-get install -y frr`"
    return ""


def prepare(node_dir: Path) -> None:
    """Daemons drop privileges to user frr: the node folder must be theirs."""
    shutil.chown(node_dir, "frr", "frr")
    for p in node_dir.iterdir():
        shutil.chown(p, "frr", "frr")


def command(daemon: str, netns: str, node_dir: Path) -> list[str]:
    d = str(node_dir)
    cmd = [
        "ip",
        "netns",
        "exec",
        netns,
        str(FRR_DIR / daemon),
        "-d",
        "-f",
        f"{d}/frr.conf",
        "-i",
        f"{d}/{daemon}.pid",
        "-z",
        f"{d}/zserv.api",
        "--vty_socket",
        d,
        "-P",
        "0",
        "--log",
        f"file:{d}/{daemon}.log",
        "--log-level",
        "informational",
    ]
    if daemon == "zebra":
        cmd += ["-s", "8388608"]  # netlink receive buffer: route bursts of big fabrics
    return cmd


def start(daemon: str, netns: str, node_dir: Path) -> None:
    (node_dir / f"{daemon}.pid").unlink(missing_ok=True)
    if daemon == "zebra":
        (node_dir / "zserv.api").unlink(missing_ok=True)  # stale after a kill: bgpd must wait for the new one
    r = subprocess.run(command(daemon, netns, node_dir), capture_output=True, text=True)
    if r.returncode != 0:
        raise FrrError(f"{daemon} in {netns} did not start: {(r.stderr or r.stdout).strip()[-400:]}")


def wait_for(paths: list[Path], timeout_s: float = 20.0) -> list[Path]:
    """Wait until every path exists; returns those still missing."""
    deadline = time.monotonic() + timeout_s
    left = list(paths)
    while left and time.monotonic() < deadline:
        left = [p for p in left if not p.exists()]
        if left:
            time.sleep(0.05)
    return left


def pid_of(node_dir: Path, daemon: str) -> int:
    """The daemon's pid if it runs and is ours (its command line names node_dir), else 0."""
    try:
        pid = int((node_dir / f"{daemon}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pid if _is_ours(pid, node_dir) else 0


def _is_ours(pid: int, node_dir: Path) -> bool:
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return exe.startswith(f"{FRR_DIR}/") and f"{node_dir}/frr.conf".encode() in cmdline


def kill(node_dir: Path, daemons: tuple[str, ...] = DAEMONS, sig: int = signal.SIGKILL) -> list[int]:
    """Signal our daemons of one node; returns the pids signalled."""
    pids = []
    for d in daemons:
        pid = pid_of(node_dir, d)
        if pid:
            try:
                os.kill(pid, sig)
                pids.append(pid)
            except ProcessLookupError:
                pass
    return pids


def wait_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if Path(f"/proc/{p}").exists() and not _zombie(p)]
        if left:
            time.sleep(0.02)
    return left


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# -- vty ---------------------------------------------------------------------------------
def vty(node_dir: Path, daemon: str, cmd: str, timeout_s: float = 10.0) -> str:
    """Run one command on a daemon's vty socket and return its output."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout_s)
    try:
        s.connect(str(node_dir / f"{daemon}.vty"))
        s.sendall(cmd.encode() + b"\0")
        chunks, tail = [], b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise FrrError(f"{daemon} closed the vty before answering {cmd!r}")
            chunks.append(chunk)
            tail = (tail + chunk)[-4:]
            if len(tail) == 4 and tail[:3] == b"\0\0\0":
                break
    except OSError as exc:
        raise FrrError(f"{daemon} vty in {node_dir}: {exc}") from None
    finally:
        s.close()
    data = b"".join(chunks)
    status, text = data[-1], data[:-4].decode(errors="replace")
    if status != 0:
        raise FrrError(f"{daemon}: {cmd!r} failed: {text.strip()[:300]}")
    return text


def vty_json(node_dir: Path, daemon: str, cmd: str) -> dict:
    text = vty(node_dir, daemon, cmd)
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        raise FrrError(f"{daemon}: {cmd!r} did not return JSON: {text[:200]}") from None


def syntax_errors(conf: Path) -> str:
    """`vtysh -C -f` (dry run, no daemon needed) exits non-zero on lines FRR does not accept;
    the daemons' own -C does not (they only log). Returns the complaint, "" if the file loads."""
    r = subprocess.run(["vtysh", "-C", "-f", str(conf)], capture_output=True, text=True)
    if r.returncode == 0:
        return ""
    return "; ".join(line.strip() for line in (r.stdout + r.stderr).splitlines() if line.strip())[:600]


_CONFIG_ERROR = re.compile(r"\] (.+?) on config line (\d+): ?(.*)$")


def rejected_lines(node_dir: Path) -> list[tuple[int, str, str]]:
    """Lines of frr.conf that no daemon accepted: (line number, text, zebra's and bgpd's
    complaints). Every daemon reads the whole integrated file and logs the lines it does not
    know, so a line is lost only when zebra *and* bgpd rejected it (e.g. a typo, or a staticd
    line: the twin runs no staticd)."""
    seen: list[dict[int, tuple[str, str]]] = []
    for d in DAEMONS:
        lines: dict[int, tuple[str, str]] = {}
        try:
            text = (node_dir / f"{d}.log").read_text(errors="replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            m = _CONFIG_ERROR.search(line)
            if m:
                lines[int(m.group(2))] = (m.group(3).strip(), m.group(1))
        seen.append(lines)
    both = set(seen[0]).intersection(*seen[1:])
    return [(n, seen[0][n][0], " / ".join(dict.fromkeys(s[n][1] for s in seen))) for n in sorted(both)]
