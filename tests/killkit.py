"""kill -9 at a random moment: the output folder is absent, complete, or the previous complete
version; the next run leaves no temporary folder; a killed sweep leaves no pool worker behind.

Shared by tests/test_kill.py (a handful of kills) and benchmarks/killsuite.py (50 per command).
Each command runs as its own process (`python -c 'from tokenfab.cli import main; main()'`) and
is killed with SIGKILL after a random share of the time a whole run takes.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.fuzzkit import FACTORY, INTENT, SWEEP

SRC = Path(__file__).resolve().parents[1] / "src"
CLI = [sys.executable, "-c", "from tokenfab.cli import main; main()"]


def snapshot(folder: Path) -> dict[str, str] | None:
    """Every file of a folder with its hash (None: the folder does not exist)."""
    if not folder.exists():
        return None
    # a DuckDB file differs from run to run (its own block layout): it counts by its presence
    return {
        str(p.relative_to(folder)): "present" if p.suffix == ".duckdb" else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(SRC), COLUMNS="120")


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(p.name))
    return out


def _gone(pids: list[int], within_s: float = 5.0) -> list[int]:
    """The processes still alive (not zombies) after waiting up to `within_s`; a pid reused by a
    new process meanwhile (another start time) counts as gone."""
    born = {p: _start(p) for p in pids}
    end = time.monotonic() + within_s
    left = [p for p in pids if born[p] is not None]
    while left and time.monotonic() < end:
        left = [p for p in left if _alive(p) and _start(p) == born[p]]
        if left:
            time.sleep(0.05)
    return left


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _start(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if fields else None  # starttime: field 22 of stat, counted after the name


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


@dataclass
class Command:
    """One command to kill: how to run it, and what a previous complete version looks like."""

    name: str
    args: list[str]
    target: Path
    before: dict | None  # the target before the run (None: absent)
    after: dict | None = None  # the target after a whole run


def prepare(work: Path) -> dict[str, Command]:
    """A work folder with the inputs, and each command's previous and complete outputs."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "intent.yaml").write_text(yaml.safe_dump(INTENT))
    (work / "f.yaml").write_text(yaml.safe_dump(FACTORY))
    (work / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    # a previous version of each target that differs from what the run writes
    old_intent = dict(INTENT, cluster=dict(INTENT["cluster"], servers=8))
    (work / "old-intent.yaml").write_text(yaml.safe_dump(old_intent))
    runs = {
        "plan": (["plan", "intent.yaml", "-o", "plan-out", "--force"], "plan-out", ["plan", "old-intent.yaml", "-o", "plan-out"]),
        "configure": (["configure", "cfg"], "cfg", ["plan", "intent.yaml", "-o", "cfg"]),
        "factory": (
            ["factory", "run", "f.yaml", "-o", "factory-out", "--force"],
            "factory-out",
            ["factory", "run", "f.yaml", "-o", "factory-out"],
        ),
        "sweep": (["sweep", "s.yaml", "-o", "sweep-out", "--force", "-j", "2"], "sweep-out", None),
    }
    out = {}
    for name, (args, target, setup) in runs.items():
        if setup:
            _run(work, setup)
            if name == "factory":  # the previous version: a different window
                shutil.rmtree(work / target)
                (work / "f-old.yaml").write_text(yaml.safe_dump(dict(FACTORY, window_h=2)))
                _run(work, ["factory", "run", "f-old.yaml", "-o", target])
        cmd = Command(name, args, work / target, snapshot(work / target))
        keep = _copy_aside(cmd)
        _run(work, args)
        cmd.after = snapshot(cmd.target)
        _restore(cmd, keep)
        out[name] = cmd
    return out


def _copy_aside(cmd: Command) -> Path | None:
    if not cmd.target.exists():
        return None
    keep = cmd.target.with_name(cmd.target.name + "-previous")
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(cmd.target, keep)
    return keep


def _restore(cmd: Command, keep: Path | None) -> None:
    shutil.rmtree(cmd.target, ignore_errors=True)
    if keep is not None:
        shutil.copytree(keep, cmd.target)


def _run(work: Path, args: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(CLI + args, cwd=work, env=_env(), capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"tokenfab {' '.join(args)}: exit {r.returncode}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t0


@dataclass
class KillResult:
    command: str
    at_s: float
    state: str  # "absent" | "complete" | "previous" | what else was found
    problem: str = ""


def kill_once(work: Path, cmd: Command, at_s: float, when_writing: bool = False) -> KillResult:
    """Run `cmd`, SIGKILL it after `at_s` (when_writing: `at_s` after its temporary output folder
    appears, whatever the machine's load), check the target, run it again, check no leftovers."""
    keep = work / (cmd.target.name + "-previous")
    _restore(cmd, keep if cmd.before is not None else None)
    p = subprocess.Popen(CLI + cmd.args, cwd=work, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kids: set[int] = set()
    prefix = f".{cmd.target.name}.tmp-"
    while when_writing and p.poll() is None and not any(n.startswith(prefix) for n in os.listdir(work)):
        kids.update(_children(p.pid))
        time.sleep(0.005)
    deadline = time.monotonic() + at_s
    while time.monotonic() < deadline and p.poll() is None:
        kids.update(_children(p.pid))
        time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
    kids.update(_children(p.pid) if p.poll() is None else [])
    grandkids = {g for k in kids for g in _children(k)}
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    now = snapshot(cmd.target)
    state = (
        "absent"
        if now is None and cmd.before is None
        else "complete"
        if now == cmd.after
        else "previous"
        if now == cmd.before
        else "broken"
    )
    problem = (
        ""
        if state != "broken"
        else (f"target is neither absent, complete nor the previous version ({0 if now is None else len(now)} files)")
    )
    orphans = [k for k in _gone(sorted(kids | grandkids)) if not _not_ours(k)]
    if orphans and not problem:
        problem = f"{len(orphans)} child process(es) outlived the killed run: {orphans[:4]}"
    # the next run: completes, and no temporary folder of either run survives it
    try:
        _run(work, cmd.args if "--force" in cmd.args or cmd.name == "configure" else cmd.args + ["--force"])
    except RuntimeError as exc:
        return KillResult(cmd.name, at_s, state, problem or f"the next run failed: {exc}")
    left = [p.name for p in cmd.target.parent.iterdir() if p.name.startswith(f".{cmd.target.name}.")]
    if left and not problem:
        problem = f"temporary folder survived the next run: {left[0]}"
    if snapshot(cmd.target) != cmd.after and not problem:
        problem = "the next run did not write the complete output"
    return KillResult(cmd.name, at_s, state, problem)


def _not_ours(pid: int) -> bool:
    """A pid gone, or reused by a process that is not a Python one of ours."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"tokenfab" not in cmdline and b"multiprocessing" not in cmdline and b"python" not in cmdline


def measure(work: Path, cmd: Command) -> float:
    """Seconds a whole run takes (the kills land within it)."""
    keep = work / (cmd.target.name + "-previous")
    _restore(cmd, keep if cmd.before is not None else None)
    return _run(work, cmd.args)


def kill_times(total_s: float, n: int, seed: int = 0) -> list[tuple[float, bool]]:
    """(delay, when_writing) per kill: half at a random moment of a whole run, half a random
    moment (up to 0.3 s) after the output folder's temporary sibling appears."""
    rng = random.Random(seed)
    return [(rng.uniform(0.05, total_s * 1.05), False) if k % 2 else (rng.uniform(0.0, 0.3), True) for k in range(n)]
