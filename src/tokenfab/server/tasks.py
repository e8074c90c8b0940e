"""What a background job does, run in its own worker process (see jobs.py).

Each task calls the same functions as the CLI verb of its name and writes the same files, into the
design's folders, so a result made in the browser opens on the command line and the other way round.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokenfab.errors import InputError
from tokenfab.fileio import write_atomic
from tokenfab.server.workspace import Workspace

Progress = Callable[[int, int | None, str], None]


def run(root: str, job_id: str) -> None:
    """Entry point of the worker process: run the job's task, record its outcome for the dispatcher."""
    ws = Workspace(Path(root))
    jobs = ws.root / ".jobs"
    rec = json.loads((jobs / f"{job_id}.json").read_text())
    kind, design, params = rec["kind"], rec["design"], rec["params"]
    last = [0.0]

    def progress(done: int, total: int | None, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and (total is None or done < total):
            return  # a few updates a second are plenty for a progress bar
        last[0] = now
        write_atomic(jobs / f"{job_id}.progress.json", json.dumps({"done": done, "total": total, "message": message}))

    try:
        result = {"result": TASKS[kind](ws, design, params, progress)}
    except InputError as exc:
        result = {"error": str(exc)}
    except Exception as exc:  # a bug: keep the server up, show what happened
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
    write_atomic(jobs / f"{job_id}.result.json", json.dumps(result))


def configure(ws: Workspace, design: str, params: dict, progress: Progress) -> dict:
    """`tokenfab configure PLAN` then `tokenfab validate PLAN --json` into PLAN/validation.json."""
    import tokenfab
    from tokenfab.api import configure_count

    plan = ws.plan_dir(design)
    fabric = tokenfab.load_fabric(plan)
    total = configure_count(fabric)
    done = [0]

    def tick(name: str) -> None:
        done[0] += 1
        progress(done[0], total, f"configure {name}")

    tokenfab.configure(fabric, plan, add_to_plan=True, progress=tick)
    report = tokenfab.validate(
        plan, progress=lambda d, t, name: progress(d, t, f"validate {name}"), check_frr=bool(params.get("frr", True))
    )
    doc = report.to_json()
    doc["folder"] = "plan"
    (plan / "validation.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return {"ok": report.ok, "violations": len(report.violations), "switches": report.switches}


def simulate(ws: Workspace, design: str, params: dict, progress: Progress) -> dict:
    """`tokenfab simulate` for one or more routing modes; results as data for the charts."""
    import tokenfab
    from tokenfab.sim import Faults, SimParams, parse_size, size_series
    from tokenfab.sim.sizes import collective_name

    run_id = params["run"]
    out = ws.run_dir(design, run_id)
    out.mkdir(parents=True, exist_ok=True)
    fabric = tokenfab.load_fabric(ws.plan_dir(design))
    sizes = size_series(
        parse_size(params.get("minbytes", "1M"), "minbytes"),
        parse_size(params.get("maxbytes", "1G"), "maxbytes"),
        int(params.get("stepfactor", 4)),
        None,
    )
    faults = Faults(
        down=tuple(params.get("fail", [])), loss=float(params.get("loss", 0.0)), recovery=params.get("recovery", "go-back-n")
    )
    coll = collective_name(params.get("collective", "all_reduce"))
    routings = params.get("routings") or ["ecmp"]
    series, heat, result = [], None, None
    for k, mode in enumerate(routings):
        on = f" on {len(result.gpus):,} GPUs" if result else ""
        progress(k, len(routings), f"simulating {coll}{on}, {mode}")  # (the GPUs are counted by the first)
        result = tokenfab.simulate(
            fabric,
            coll,
            sizes,
            gpus=params.get("gpus"),
            servers=params.get("servers"),
            routing=mode,
            qps=int(params.get("qps", 1)),
            seed=int(params.get("seed", 0)),
            faults=faults,
            params=SimParams(efficiency=float(params.get("efficiency", 0.95))),
            record_links=(k == 0),
        )
        runs = [line.first for line in result.lines]
        series.append(
            {
                "routing": mode,
                "size_bytes": [r.size_bytes for r in runs],
                "busbw_GBps": [round(r.busbw_GBps, 3) for r in runs],
                "algbw_GBps": [round(r.algbw_GBps, 3) for r in runs],
                "time_us": [round(r.time_s * 1e6, 3) for r in runs],
            }
        )
        if k == 0:
            heat = _link_loads(fabric, runs[-1], faults)
    assert result is not None  # routings is never empty
    progress(len(routings), len(routings), "done")
    doc = {"collective": coll, "gpus": len(result.gpus), "params": params, "series": series, "links": heat}
    (out / "result.json").write_text(json.dumps(doc, sort_keys=True) + "\n")
    return {"run": run_id}


def _link_loads(fabric, result, faults) -> list[dict]:
    """Switch-to-switch and NIC links at the largest size: load (share of usable capacity, the busier
    direction) of the 300 busiest, plus every failed link (marked, never drawn as an idle one)."""
    import numpy as np

    from tokenfab.names import resolve

    failed: set[int] = set()
    for text in faults.down:
        ref = resolve(fabric, text)
        if ref.is_device:  # a switch down takes all its links with it
            for name in ref.devices:
                i = fabric.index[name]
                failed.update(int(r) for r in np.flatnonzero((fabric.links["a"] == i) | (fabric.links["b"] == i)))
        failed.update(int(i) for i in ref.links)
    n = len(fabric.links)
    u = result.link_utilization()[: 2 * n]
    per_link = np.maximum(u[0::2], u[1::2]) if len(u) == 2 * n else np.zeros(n)
    order = np.argsort(-per_link, kind="stable")[:300]
    rows = [
        {
            "link": _link_name(fabric, int(i)),
            "kind": str(fabric.links["kind"][i]),
            "load": round(float(per_link[i]), 4),
            "failed": int(i) in failed,
        }
        for i in order
    ]
    shown = {int(i) for i in order}
    rows += [
        {"link": _link_name(fabric, i), "kind": str(fabric.links["kind"][i]), "load": 0.0, "failed": True}
        for i in sorted(failed - shown)
    ]
    return rows


def _link_name(fabric, i: int) -> str:
    link = fabric.link(i)
    return f"{link.a}:{link.a_port}--{link.b}:{link.b_port}"


def factory(ws: Workspace, design: str, params: dict, progress: Progress) -> dict:
    """`tokenfab factory run FACTORY --fabric PLAN -o RUN/out`: the same function, the same files."""
    import tokenfab

    run_id = params["run"]
    out = ws.run_dir(design, run_id)
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "factory.yaml"
    spec.write_text(params["factory_yaml"])
    progress(0, None, "loading the factory and its fabric")
    tokenfab.run_factory(
        spec,
        fabric=ws.plan_dir(design),
        out=out / "out",
        force=True,
        progress=lambda done, total, name: progress(done, total, f"simulating {name}"),
    )
    progress(1, 1, "done")
    return {"run": run_id}


TASKS: dict[str, Callable[[Workspace, Any, dict, Progress], dict]] = {
    "configure": configure,
    "simulate": simulate,
    "factory": factory,
}


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
