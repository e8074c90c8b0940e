"""One epoch of the factory: the time between two events, rates constant inside it.

Each running job first splits the epoch into recovering (after a failure), loading weights,
writing checkpoints and working; then the data layer and the services advance; then the work
becomes tokens and every GPU-second is booked to a `Cause` (accounting.py), with the facility's
power (power.py) integrated over the same span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tokenfab.factory.accounting import Cause, zeros
from tokenfab.factory.checkpoint import advance_cycle
from tokenfab.factory.jobs import JobRun

if TYPE_CHECKING:
    from tokenfab.factory.engine import Engine


@dataclass
class Epoch:
    """What the factory did between t0_s and t1_s."""

    t0_s: float
    t1_s: float
    allocated_gpus: int
    gpus_by_cause: np.ndarray  # GPU-equivalents by Cause (queueing: free GPUs while jobs wait)
    power_w: float  # facility power (IT x PUE)
    it_power_w: float
    gpu_w: float
    server_w: float
    cpu_w: float
    running: int
    queued: int
    tokens_per_s: float
    down_gpus: int

    def gpus(self, cause: Cause) -> float:
        return float(self.gpus_by_cause[cause])


@dataclass
class Split:
    """How a running job spends the epoch (seconds)."""

    recover: float
    load: float
    work: float
    write: float
    checkpoints: int  # completed in the epoch
    mark: float  # work seconds done when the last completed checkpoint ended, -1 when none


def split(j: JobRun, dt: float) -> Split:
    a = min(dt, j.recover_s)
    j.recover_s -= a
    b = min(dt - a, j.load_s)
    j.load_s -= b
    rem = dt - a - b
    ck = j.ckpt
    if ck.interval_s and rem > 0:
        work, write, ck.phase_s, done, mark = advance_cycle(ck.phase_s, ck.interval_s, ck.write_s, rem)
    else:
        work, write, done, mark = rem, 0.0, 0, -1.0
    return Split(a, b, work, write, done, mark)


def advance(e: Engine, t: float) -> None:
    """Move the factory from e.now to t: progress, GPU time by cause, power, storage traffic."""
    dt = t - e.now
    if dt <= 0:
        e.now = max(e.now, t)
        return
    t0 = e.now
    splits = {j: split(j, dt) for j in e.running}
    if e.data is not None:  # data arrives and flows through the pipelines into storage
        e.data.advance(t0, t)
    for s in e.services:  # services serve their requests with the replicas' capacity
        s.advance(t0, t, e.spec.request_bin_s, {j: v.work for j, v in splits.items() if j.stage == "replica"}, e.frontend)
    pw = e.power
    by_cause = zeros()  # GPU-equivalents
    alloc = tok = gpu_w = 0.0
    io_bytes_per_s = [0.0, 0.0]  # dataset reads, checkpoint writes
    for j in e.running:
        n = j.gpus
        g, got = _book_job(e, j, splits[j], dt, io_bytes_per_s)
        j.acc.gpu_s += n * dt
        j.acc.run_s += dt
        j.acc.gpu_s_by_cause += g
        w = pw.gpus_w(n, float(g[Cause.COMPUTING]) / (n * dt))
        j.acc.energy_j += w * dt * e.spec.power.pue
        gpu_w += w
        alloc += n
        by_cause += g / dt
        tok += got / dt
    for j in e.queue:  # restarting after a failure: the wait counts against its goodput
        if j.needs_restart and j.kind == "training" and j.rates is not None and j.rates.ok:
            j.acc.ideal_tokens += j.rates.tokens_per_s * dt
    n_all = e.cluster.n_gpus
    down = int(e.inv.down.sum()) * e.cluster.gpus_per_server
    free = max(n_all - alloc - down, 0.0)
    qidle = min(free, float(sum(j.gpus for j in e.queue)))
    e.idle_gpu_s[Cause.FAILURES] += down * dt
    e.idle_gpu_s[Cause.QUEUEING] += qidle * dt
    e.idle_gpu_s[Cause.UNALLOCATED] += (free - qidle) * dt
    by_cause[Cause.FAILURES] += down
    by_cause[Cause.QUEUEING] = qidle
    by_cause[Cause.UNALLOCATED] = free - qidle
    gpu_w += (n_all - alloc) * pw.gpu_idle_w
    server_w = pw.servers_w(alloc / n_all if n_all else 0.0)
    it_w = pw.it_w(gpu_w, server_w)
    e.epochs.append(
        Epoch(
            e.now,
            t,
            int(alloc),
            by_cause,
            it_w * e.spec.power.pue,
            it_w,
            gpu_w,
            server_w,
            pw.cpu_w,
            len(e.running),
            len(e.queue),
            tok,
            down,
        )
    )
    if e.storage is not None:
        pipe = sum(s[3] for pp in e.data.pipelines for s in pp.series[-1:]) / dt if e.data else 0.0
        e.storage.record(t0, t, io_bytes_per_s[0] + io_bytes_per_s[1] + pipe)
    for obs in e.observers:
        obs(e.now, t, e)
    e.now = t


def _book_job(e: Engine, j: JobRun, sp: Split, dt: float, io_bytes_per_s: list[float]) -> tuple[np.ndarray, float]:
    """A running job's epoch: its progress, and its GPU-seconds by cause. Returns (by cause, tokens)."""
    n = j.gpus
    r = j.rates
    acc, ck = j.acc, j.ckpt
    work = sp.work
    busy = net = starve = low = other = 0.0
    fail = n * sp.recover
    stor = n * (sp.load + sp.write)
    got = 0.0
    if sp.write and ck.write_s > 0:
        wb = ck.bytes * sp.write / ck.write_s
        ck.written_bytes += wb
        e.storage.tiers[ck.tier].write("checkpoints", wb)
        io_bytes_per_s[1] += wb / dt
    if r is not None and r.ok:
        if j.kind == "training":
            req = j.req
            sig = j.storage_factor
            rate = r.tokens_per_s * sig
            got = rate * work
            limited = False
            if req.dataset is not None and e.data is not None:
                avail = max(e.data.available_tokens(req.dataset, req.max_epochs) - acc.tokens, 0.0)
                if avail < got:
                    got, limited = avail, True
            if req.target_tokens is not None:
                got = min(got, max(req.target_tokens - acc.tokens, 0.0))
            if req.target_steps is not None:
                got = min(got, max(req.target_steps - acc.steps, 0.0) * req.tokens_per_step)
            prog = got / rate if rate > 0 else 0.0
            rest = max(work - prog, 0.0)
            busy = n * prog * sig * r.busy
            net = n * prog * sig * r.net
            other = n * prog * sig * max(1.0 - r.busy - r.net, 0.0)
            stor += n * prog * (1.0 - sig)
            if limited:
                starve = n * rest
            else:
                other += n * rest
            if sp.checkpoints:
                frac = (sp.mark / work) if work > 0 and sp.mark >= 0 else 1.0
                ck.tokens_at = acc.tokens + got * min(frac, 1.0)
                ck.steps_at = ck.tokens_at / req.tokens_per_step
                ck.count += sp.checkpoints
            acc.tokens += got
            acc.steps += got / req.tokens_per_step
            if req.dataset is not None and e.data is not None:
                ds = e.data.datasets[req.dataset]
                nb = got * ds.bytes_per_token
                acc.read_bytes += nb
                e.storage.tiers[ds.tier].read_bytes("training", nb)
                io_bytes_per_s[0] += nb / dt
            acc.w_mfu += r.mfu * dt
            acc.ideal_tokens += r.tokens_per_s * dt
        else:
            ld = j.load if j.stage == "replica" else 1.0
            busy = n * work * ld * r.busy
            net = n * work * ld * r.net
            other = n * work * ld * max(1.0 - r.busy - r.net, 0.0)
            low = n * work * (1.0 - ld)
            if j.stage == "replica":
                got, inp = j.epoch_tokens, j.epoch_input
            else:
                got, inp = r.tokens_per_s * work, r.input_per_s * work
            acc.tokens += got
            acc.input_tokens += inp
            acc.w_ttft_s += r.ttft_s * dt
            acc.w_tpot_s += r.tpot_s * dt
        acc.w_step_s += r.step_s * dt
        acc.w_alone_step_s += r.alone_step_s * dt
        acc.contention_gpu_s += n * dt * r.cont
        acc.bubble_gpu_s += n * work * r.bubble
    else:
        net = n * work  # unreachable: it waits on the network
    g = zeros()
    g[Cause.COMPUTING], g[Cause.NETWORK], g[Cause.STORAGE] = busy, net, stor
    g[Cause.PIPELINE_STARVATION], g[Cause.FAILURES], g[Cause.LOW_DEMAND], g[Cause.OTHER_OVERHEAD] = starve, fail, low, other
    return g, got
