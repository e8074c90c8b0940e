"""The work a sweep farms out, the same on a local process pool and on Ray.

- `design_task(intent, keep, layers)`: plan one design once, under the driver's catalog `layers`:
  its plan metrics (or why it cannot be built) and the Fabric itself when points still need it
  (simulate or factory);
- `point_task(fabric, point)`: one point's simulate and factory metrics on that shared Fabric, under
  the catalog it was planned with.
A failure inside a point is returned as data, never raised: the sweep records it and goes on."""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from tokenfab.errors import InputError


def node_name() -> str:
    """The Ray node running this task, or host:pid in a local pool."""
    import sys

    ray = sys.modules.get("ray")  # a Ray worker has imported it; a local pool worker has not
    if ray is not None and ray.is_initialized():
        return ray.get_runtime_context().get_node_id()
    return f"{socket.gethostname()}:{os.getpid()}"


def design_task(intent: dict, keep_fabric: bool, layers: tuple | None = None) -> tuple[dict[str, Any], Any]:
    """`layers`: the driver's catalog (its --catalog files, user-wide folder; default: this process's).
    A worker process does not share the driver's context, so the catalog travels with the task."""
    from tokenfab.catalog import active_layers, use_catalog
    from tokenfab.design import design as plan
    from tokenfab.intent import parse_intent
    from tokenfab.sweep.metrics import plan_metrics

    t0 = time.perf_counter()
    out: dict[str, Any]
    try:
        # within the block only: a pooled worker (or the driver, with one job) runs design after design
        with use_catalog(active_layers() if layers is None else layers):
            fabric = plan(parse_intent(intent))
            out = {"status": "ok", "reason": "", "metrics": plan_metrics(fabric)}
    except InputError as exc:
        fabric, out = None, {"status": "infeasible", "reason": str(exc), "metrics": {}}
    except Exception as exc:  # noqa: BLE001 - recorded with the point, the sweep goes on
        fabric, out = None, {"status": "failed", "reason": _error(exc), "metrics": {}}
    out["seconds"] = time.perf_counter() - t0
    out["node"] = node_name()
    return out, (fabric if keep_fabric else None)


def point_task(fabric, simulate: dict | None, factory: dict | None) -> dict[str, Any]:
    """Under the catalog the fabric was planned with (it records it), as `Fabric.load` does."""
    from tokenfab.catalog import use_catalog
    from tokenfab.sweep.metrics import factory_metrics, sim_metrics

    t0 = time.perf_counter()
    metrics: dict[str, Any] = {}
    out: dict[str, Any]
    try:
        with use_catalog(fabric.catalog_layers):
            if simulate is not None:
                metrics.update(sim_metrics(fabric, simulate))
            if factory is not None:
                metrics.update(factory_metrics(fabric, factory))
        out = {"status": "ok", "reason": "", "metrics": metrics}
    except InputError as exc:
        out = {"status": "failed", "reason": str(exc), "metrics": metrics}
    except Exception as exc:  # noqa: BLE001
        out = {"status": "failed", "reason": _error(exc), "metrics": metrics}
    out["seconds"] = time.perf_counter() - t0
    out["node"] = node_name()
    return out


def _error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
