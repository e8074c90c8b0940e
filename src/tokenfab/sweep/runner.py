"""Run a sweep: every point evaluated in a process pool (or as Ray tasks), results kept in point
order so the same sweep gives the same files."""

from __future__ import annotations

import ctypes
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

from rich.progress import Progress

from tokenfab.errors import InputError
from tokenfab.sweep.metrics import plan_metrics
from tokenfab.sweep.spec import SweepSpec, points


def evaluate(data: dict) -> dict[str, Any]:
    """One point: its metrics, or status 'infeasible' with the planner's reason."""
    try:
        return {"status": "ok", "reason": "", **plan_metrics(data)}
    except InputError as exc:
        return {"status": "infeasible", "reason": str(exc)}


def _die_with_parent(parent_pid: int) -> None:
    """Pool worker: end when the sweep's process ends, even by kill -9 (Linux: PR_SET_PDEATHSIG),
    instead of living on as an orphan."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


RAY_CONNECT_TIMEOUT_S = 5.0


def _reachable(address: str) -> None:
    """A Ray address that does not answer is refused in seconds (ray.init would retry for minutes)."""
    import socket

    if address in ("local", "auto"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--ray {address!r}: expected 'local', 'auto' or HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InputError(f"--ray {address}: no Ray cluster answers there within {RAY_CONNECT_TIMEOUT_S:g} s "
                         f"({exc.strerror or exc}); start one with `ray start --head` or use --ray local") from None


def _local(datas: list[dict], jobs: int, tick: Callable[[], None]) -> list[dict]:
    if jobs <= 1:
        out = []
        for d in datas:
            out.append(evaluate(d))
            tick()
        return out
    with ProcessPoolExecutor(max_workers=jobs, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
        out = []
        for r in pool.map(evaluate, datas, chunksize=max(1, len(datas) // (8 * jobs))):
            out.append(r)
            tick()
        return out


def _ray(datas: list[dict], address: str, tick: Callable[[], None]) -> list[dict]:
    _reachable(address)
    import ray

    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    task = ray.remote(evaluate)
    refs = [task.remote(d) for d in datas]
    index = {ref: i for i, ref in enumerate(refs)}
    out: list[dict | None] = [None] * len(refs)
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            out[index[ref]] = ray.get(ref)
            tick()
    return out  # type: ignore[return-value]


def run_sweep(spec: SweepSpec, base: dict, jobs: int = 2, ray_address: str | None = None,
              show_progress: bool = True) -> list[dict]:
    grid = points(spec, base)
    datas = [d for _, d in grid]
    with Progress(disable=not show_progress, transient=True) as progress:
        task = progress.add_task(f"sweep {spec.name}", total=len(datas))
        tick = lambda: progress.advance(task)  # noqa: E731
        results = _ray(datas, ray_address, tick) if ray_address else _local(datas, jobs, tick)
    return [{"point": i + 1, **axes, **r} for i, ((axes, _), r) in enumerate(zip(grid, results))]
