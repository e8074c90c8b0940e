"""Where sweep tasks run: a local process pool (default) or a Ray cluster (`--ray auto|local|ADDRESS`).

Both hand out concurrent.futures.Future objects, so the driver's loop is the same. A design's
Fabric stays where it was made as long as it can: on Ray it is an object in the object store whose
reference the point tasks take (each node fetches it once); locally the driver holds it and sends it
with each point task."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from tokenfab.errors import InputError
from tokenfab.sweep.tasks import design_task, point_task


def _die_with_parent(parent: int) -> None:
    """A pool worker goes when the driver goes (kill -9 included), so nothing runs on unwatched."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:  # the driver died while this worker was starting
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
        raise InputError(
            f"--ray {address}: no Ray cluster answers there within {RAY_CONNECT_TIMEOUT_S:g} s "
            f"({exc.strerror or exc}); start one with `ray start --head` or use --ray local"
        ) from None


def _done(value: Any) -> Future:
    f: Future = Future()
    f.set_result(value)
    return f


class LocalEngine:
    """A process pool of `jobs` workers (jobs=1: in the driver's own process); every design is planned
    with the catalog `layers` (the driver's)."""

    name = "local"

    def __init__(self, jobs: int, layers: tuple = ()):
        self.jobs = jobs
        self.layers = tuple(layers)
        self.pool: ProcessPoolExecutor | None = None
        self.restart()

    def restart(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = (
            ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            )
            if self.jobs > 1
            else None
        )

    def design(self, intent: dict, keep: bool) -> Future:
        if self.pool is None:
            return _done(design_task(intent, keep, self.layers))
        return self.pool.submit(design_task, intent, keep, self.layers)

    def point(self, fabric: Any, simulate: dict | None, factory: dict | None) -> Future:
        if self.pool is None:
            return _done(point_task(fabric, simulate, factory))
        return self.pool.submit(point_task, fabric, simulate, factory)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class RayEngine:
    """Tasks on a Ray cluster: `auto` (the running cluster), `local` (start one here) or an address;
    every design is planned with the catalog `layers` (the driver's: no node needs the files)."""

    name = "ray"

    def __init__(self, address: str, num_cpus: int | None = None, layers: tuple = ()):
        try:
            import ray
        except ImportError:
            raise InputError("--ray: Ray is not installed (pip install 'tokenfab[ray]')") from None
        _reachable(address)
        self.ray = ray
        self.owned = False
        if not ray.is_initialized():
            try:
                if address == "local":
                    ray.init(num_cpus=num_cpus or 2, include_dashboard=False, log_to_driver=False, configure_logging=False)
                else:
                    ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError(f"--ray {address}: cannot connect to a Ray cluster ({exc})") from None
            self.owned = True
        # SPREAD: a sweep's tasks are independent; spread them over the cluster rather than filling the
        # driver's node first
        self._design = ray.remote(design_task).options(num_returns=2, max_retries=3, scheduling_strategy="SPREAD")
        self._point = ray.remote(point_task).options(max_retries=3, scheduling_strategy="SPREAD")
        self._layers = ray.put(tuple(layers))  # stored once, fetched once per node

    def restart(self) -> None:  # Ray retries tasks whose worker died by itself
        pass

    def design(self, intent: dict, keep: bool) -> Future:
        refs: Any = self._design.remote(intent, keep, self._layers)  # num_returns=2: (summary, fabric) refs
        summary, fabric = refs
        out: Future = Future()

        def finish(f: Future) -> None:
            try:
                out.set_result((f.result(), fabric))
            except BaseException as exc:  # noqa: BLE001 - surfaced by the driver as the design's error
                out.set_exception(exc)

        summary.future().add_done_callback(finish)
        return out

    def point(self, fabric: Any, simulate: dict | None, factory: dict | None) -> Future:
        return self._point.remote(fabric, simulate, factory).future()

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()
