"""kill -9 at random moments (tests/killkit.py): the target is absent, complete or the previous
complete version; the next run leaves no temporary folder; a killed sweep leaves no pool worker.
A handful of kills here; benchmarks/killsuite.py kills each command 50 times."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.killkit import kill_once, prepare

pytestmark = pytest.mark.xdist_group("kill")


@pytest.fixture(scope="module")
def commands():
    work = Path(tempfile.mkdtemp(prefix="tokenfab-kill-"))
    yield work, prepare(work)
    shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("name, delays_s", [("plan", (0.0, 0.2)), ("configure", (0.1,)), ("factory", (0.1,)), ("sweep", (0.05,))])
def test_killed_runs_leave_a_whole_folder_and_no_leftovers(commands, name, delays_s):
    """Killed just after the run starts writing its output (the moments that matter; the
    benchmark also kills at random moments of the whole run)."""
    work, cmds = commands
    cmd = cmds[name]
    assert cmd.after and cmd.after != cmd.before  # the kill can tell the versions apart
    for at_s in delays_s:
        r = kill_once(work, cmd, at_s, when_writing=True)
        assert not r.problem, f"{name} killed {at_s:.2f} s after it began writing: {r.problem} (target {r.state})"
        assert r.state in ("absent", "complete", "previous")


def test_a_killed_sweep_leaves_no_pool_worker(tmp_path):
    import os
    import signal
    import subprocess
    import time

    import yaml

    from tests.fuzzkit import INTENT
    from tests.killkit import CLI, _children, _env, _gone

    (tmp_path / "intent.yaml").write_text(yaml.safe_dump(INTENT))
    spec = {"base": "intent.yaml", "axes": [{"path": "racks.power_budget_kw", "values": list(range(20, 420))}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    p = subprocess.Popen(
        CLI + ["sweep", "s.yaml", "-o", "out", "-j", "2"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    end = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < end and p.poll() is None:
        workers = _children(p.pid)
        time.sleep(0.05)
    assert len(workers) >= 2, "the pool never started"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert _gone(workers, within_s=10) == []
    # what it leaves is its own, resumable folder (`--resume` finishes it), never a half-written other one
    out = tmp_path / "out"
    assert not out.exists() or {".tokenfab-output", "sweep.duckdb"} <= {q.name for q in out.iterdir()}
