"""kill -9 at random moments (tests/killkit.py): the target is absent, complete or the previous
complete version; the next run leaves no temporary folder; a killed sweep leaves no pool worker.
A handful of kills here; benchmarks/killsuite.py kills each command 50 times."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.killkit import kill_once, kill_times, measure, prepare

pytestmark = pytest.mark.xdist_group("kill")


@pytest.fixture(scope="module")
def commands():
    work = Path(tempfile.mkdtemp(prefix="tokenfab-kill-"))
    yield work, prepare(work)
    shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("name, kills", [("plan", 2), ("configure", 1), ("factory", 1), ("sweep", 1)])
def test_killed_runs_leave_a_whole_folder_and_no_leftovers(commands, name, kills):
    work, cmds = commands
    cmd = cmds[name]
    assert cmd.after and cmd.after != cmd.before  # the kill can tell the versions apart
    total_s = measure(work, cmd)
    for at_s in kill_times(total_s, kills, seed=len(name)):
        r = kill_once(work, cmd, at_s)
        assert not r.problem, f"{name} killed at {at_s:.2f} s of {total_s:.2f} s: {r.problem} (target {r.state})"
        assert r.state in ("absent", "complete", "previous")
