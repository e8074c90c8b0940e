"""Rates of the running jobs: each job's step time alone on its placement (cached per placement
and fabric state, so an unchanged job costs nothing), then contention between the jobs that share
the fabric, from the communication model."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tokenfab.factory.jobs import Estimate, JobRun, Rates
from tokenfab.workload.comm import JobTraffic
from tokenfab.workload.inference import InferenceResult, inference_estimate
from tokenfab.workload.training import TrainingStep, training_step

if TYPE_CHECKING:
    from tokenfab.factory.engine import Engine


def estimate(e: Engine, j: JobRun) -> Estimate:
    """The job alone on its placement, on the fabric as it is now."""
    key = (e.cluster.version, j.placement.tobytes())
    if j.alone_key != key:
        G = e.cluster.gpus_per_server
        w, f = j.workload, j.req.field
        if w.training:
            j.alone = training_step(w.training, e.cluster.gpu, e.comm, j.placement, G, f)
        else:
            j.alone = inference_estimate(w.inference, e.cluster.gpu, e.comm, j.placement, G, f)
            if j.stage == "replica":
                low = w.inference.model_copy(update={"batch": 1})
                j.alone_low = inference_estimate(low, e.cluster.gpu, e.comm, j.placement, G, f)
        j.alone_key = key
        _log_if_stalled(e, j)
    return j.alone


def _log_if_stalled(e: Engine, j: JobRun) -> None:
    """A job whose collectives cannot reach their peers (links down) makes no progress: say so on
    the timeline, naming the resource, rather than let its tokens stay at 0 unexplained."""
    est = j.alone
    t = est.step_s if isinstance(est, TrainingStep) else est.decode_iteration_s
    if math.isfinite(t):
        if j.stalled:
            j.stalled = False
            e.log("stall", f"{j.name} communicates again: it resumes", job=j.name)
        return
    j.stalled = True
    why = sorted({it.bottleneck for it in est.items if not math.isfinite(it.time_s)})
    e.log(
        "stall",
        f"{j.name} cannot communicate ({'; '.join(why) or 'no path'}): no progress until the links are repaired",
        job=j.name,
    )


def traffic(j: JobRun) -> JobTraffic:
    """The job's collectives per step (training) or per decode iteration (inference)."""
    est = j.alone
    if isinstance(est, TrainingStep):
        return JobTraffic(j.name, [it.collective for it in est.items], est.step_s)
    # inference: per decode iteration; prefill work scaled to what happens during one iteration
    it_s = est.decode_iteration_s
    cols = []
    spec = j.workload.inference
    for it in est.items:
        c = it.collective
        if it.stage == "prefill":
            per = (
                spec.batch / spec.output_tokens
                if spec.mode == "colocated"
                else min(1.0, est.output_tokens_per_s / max(est.decode_tokens_per_s, 1e-12)) * it_s / est.prefill_iteration_s
            )
            c = type(c)(c.kind, c.groups, c.size_bytes, c.parallelism, c.count * per, c.overlap)
        cols.append(c)
    return JobTraffic(j.name, cols, it_s)


def refresh(e: Engine) -> None:
    """New rates for every running job (a placement or the fabric changed)."""
    for j in e.running:
        estimate(e, j)
    net = [j for j in e.running if any(getattr(it, "network", False) for it in j.alone.items)]
    stretch: dict[str, float] = {}
    if len(net) > 1:
        con = e.comm.contention([traffic(j) for j in net])
        stretch = con.stretch
        for j in net:
            j.contended_on = sorted(set(j.contended_on) | set(con.contended.get(j.name, [])))
        for k, v in con.link_load.items():
            e.link_peak[k] = max(e.link_peak.get(k, 0.0), v)
    for j in e.running:
        s = stretch.get(j.name, 1.0)
        j.current = j.alone.stretched(s) if s != 1.0 else j.alone
        j.rates = rates(j, s)


def rates(j: JobRun, s: float) -> Rates:
    """The job's figures at contention stretch `s`."""
    alone = j.alone
    alone_step = alone.step_s if isinstance(alone, TrainingStep) else alone.decode_iteration_s
    step = j.step_s()
    ok = math.isfinite(step) and step > 0
    if not ok:
        return Rates(False, step, alone_step, 0.0, 1.0, 0.0, 1.0, 0.0)
    cont = max(0.0, 1.0 - alone_step / step) if math.isfinite(alone_step) else 0.0
    r = Rates(True, step, alone_step, j.busy(), j.network_idle(), j.bubble(), cont, j.tokens_per_s())
    c = j.current
    if isinstance(c, InferenceResult):
        r.input_per_s = c.input_tokens_per_s
        r.ttft_s, r.tpot_s = c.ttft_s, c.tpot_s
        low = j.alone_low.stretched(s) if j.alone_low is not None else None
        r.tpot_low_s = min(low.tpot_s, c.tpot_s) if low is not None else c.tpot_s
    else:
        r.mfu = c.mfu
    return r
