"""Background jobs: long work (configure + validate, simulations, factory runs) in worker processes.

Each job is a JSON record in WORKSPACE/.jobs/ so a page reload, or a server restart, finds it again.
A bounded number of worker processes run at once (the rest wait, queued); cancelling a job kills its
process. A job whose server died while it was queued or running is marked failed when the server
starts again: nothing is ever shown as running forever.

Each job runs `python -m tokenfab.server.tasks WORKSPACE JOB` (a fresh interpreter in its own process
group). The worker writes its progress to `<job>.progress.json` and its outcome to `<job>.result.json`; the
server's dispatcher thread folds both into the record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tokenfab.fileio import write_atomic
from tokenfab.server.workspace import Workspace

ACTIVE = ("queued", "running")
POLL_S = 0.2


def _write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=1, sort_keys=True))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class QueueFull(Exception):
    """More jobs wait than the server queues; the API answers 429."""


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


class Jobs:
    def __init__(self, workspace: Workspace, workers: int = 2, max_queued: int = 200):
        self.ws = workspace
        self.dir = workspace.root / ".jobs"
        self.workers = max(1, workers)
        self.max_queued = max_queued
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen] = {}
        self._cache: dict[str, tuple[int, str]] = {}  # job id -> (mtime, record text): reads skip unchanged files
        self._queue: list[str] = []  # queued job ids, oldest first (records on disk, order in memory)
        self._stop = threading.Event()
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="tokenfab-jobs", daemon=True)
        self._thread.start()

    # -- records ------------------------------------------------------------------------------
    def _path(self, job_id: str) -> Path:
        if not job_id.replace("-", "").isalnum() or len(job_id) > 40:
            raise KeyError(job_id)
        return self.dir / f"{job_id}.json"

    def get(self, job_id: str) -> dict[str, Any]:
        path = self._path(job_id)
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise KeyError(job_id) from None
        hit = self._cache.get(job_id)
        if hit and hit[0] == stamp:
            rec = json.loads(hit[1])
        else:
            text = path.read_text() if path.exists() else ""
            try:
                rec = json.loads(text)
            except ValueError:
                raise KeyError(job_id) from None
            self._cache[job_id] = (stamp, text)
        if rec["state"] == "running":
            prog = _read_json(self.dir / f"{job_id}.progress.json")
            if prog:
                rec["progress"] = prog
        return rec

    def list(self, design: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first (job ids start with their creation time)."""
        out = []
        for p in sorted(self.dir.glob("*.json"), reverse=True):
            if p.name.count(".") != 1:
                continue
            try:
                rec = self.get(p.stem)
            except KeyError:
                continue
            if design is None or rec.get("design") == design:
                out.append(rec)
                if len(out) >= limit:
                    break
        return out

    def _save(self, rec: dict[str, Any]) -> None:
        _write_json(self._path(rec["id"]), rec)

    def _recover(self) -> None:
        for p in self.dir.glob("*.json"):
            if p.name.count(".") != 1:
                continue
            rec = _read_json(p)
            if rec and rec.get("state") in ACTIVE:
                rec.update(
                    state="failed",
                    finished=time.time(),
                    error=f"the server stopped while this job was {rec['state']}; start it again",
                )
                self._save(rec)

    # -- submit / cancel ----------------------------------------------------------------------
    def submit(self, kind: str, design: str | None, params: dict[str, Any], title: str) -> dict[str, Any]:
        rec = {
            "id": f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}",
            "kind": kind,
            "design": design,
            "title": title,
            "params": params,
            "state": "queued",
            "created": time.time(),
            "started": None,
            "finished": None,
            "error": None,
            "result": None,
            "progress": {"done": 0, "total": None, "message": "queued"},
        }
        with self._lock:
            if len(self._queue) >= self.max_queued:
                raise QueueFull(f"{len(self._queue)} jobs are waiting already (at most {self.max_queued}); try again later")
            self._save(rec)
            self._queue.append(rec["id"])
        return rec

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            rec = self.get(job_id)
            if rec["state"] not in ACTIVE:
                return rec
            proc = self._procs.pop(job_id, None)
            if proc is not None:
                _kill(proc)
            if job_id in self._queue:
                self._queue.remove(job_id)
            rec.update(state="cancelled", finished=time.time(), error="cancelled by the user")
            self._save(rec)
            return rec

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        with self._lock:
            for job_id, proc in list(self._procs.items()):
                _kill(proc)
                rec = self.get(job_id)
                rec.update(state="failed", finished=time.time(), error="the server stopped while this job ran")
                self._save(rec)
            self._procs.clear()

    # -- dispatcher ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                with self._lock:
                    self._reap()
                    self._start_queued()
            except Exception:  # keep dispatching whatever one record holds
                continue

    def _reap(self) -> None:
        for job_id, proc in list(self._procs.items()):
            if proc.poll() is None:
                continue
            del self._procs[job_id]
            rec = self.get(job_id)
            result = _read_json(self.dir / f"{job_id}.result.json")
            if result is None:
                rec.update(state="failed", error=f"the worker process ended (exit code {proc.returncode}) without a result")
            elif result.get("error"):
                rec.update(state="failed", error=result["error"])
            else:
                rec.update(state="done", result=result.get("result"))
            rec["finished"] = time.time()
            self._save(rec)

    def _start_queued(self) -> None:
        while self._queue and len(self._procs) < self.workers:
            rec = self.get(self._queue.pop(0))
            if rec["state"] != "queued":
                continue
            # a fresh interpreter per job, in its own process group so cancelling also ends its children
            log = open(self.dir / f"{rec['id']}.log", "ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "tokenfab.server.tasks", str(self.ws.root), rec["id"]],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
            log.close()
            self._procs[rec["id"]] = proc
            rec.update(state="running", started=time.time(), progress={"done": 0, "total": None, "message": "starting"})
            self._save(rec)
