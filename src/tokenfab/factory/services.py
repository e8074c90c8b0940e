"""Inference endpoints: requests in, tokens out, judged against their SLO.

Arrivals are Poisson with a daily swing. Rather than one event per request, each epoch is cut
into bins of `request_bin_s` and the number of arrivals per bin is drawn at once (numpy). The
replicas serve by continuous batching: together they complete at most

    mu = sum over replicas of output tokens/s at full batch / output tokens per request

requests per second (from the inference model on their placement, so the fabric, contention,
failures and impairments all show up). The waiting queue follows Lindley's recursion
q_k = max(0, q_{k-1} + arrivals_k - mu x bin_k), vectorised as q = max(q0 + S, S - cummin(S)) with
S the cumulative sum; a request that would wait longer than `timeout_s` is abandoned (the queue
is capped at mu x timeout: then a plain loop over the bins).

Per bin, a request's latencies are:
    TTFT = wait + frontend + prefill x X       X ~ Gamma(4, 1/4): prompt lengths vary (CV 0.5)
    TPOT = TPOT(batch) x Y                     Y ~ Gamma(100, 1/100): context lengths vary (CV 0.1)
with wait = mean backlog / mu over the bin and TPOT(batch) interpolated between the model's TPOT
at one sequence and at the full batch, for the batch the load keeps busy. Packet loss on the
frontend network adds a TCP retransmission timeout (200 ms, Linux's minimum RTO) to the requests
that lose a segment. SLO attainment = requests served within both targets / requests resolved
(served or abandoned); a request counts as served when a decode slot takes it.

Replicas scale with load every tick: ceil(arrival rate / (capacity per replica x target_load)),
within [min, max] and the tenant's quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammainc

from tokenfab.factory.spec import Service, Workload
from tokenfab.workload.inference import InferenceSpec

TCP_RTO_S = 0.2  # Linux TCP minimum retransmission timeout
TCP_SEGMENT_BYTES = 1460
PROMPT_SHAPE = 4.0  # Gamma shape of prefill time (CV 0.5)
TPOT_SHAPE = 100.0  # Gamma shape of TPOT (CV 0.1)


def gamma_cdf(x: np.ndarray, shape: float) -> np.ndarray:
    """P(Z <= x) for Z ~ Gamma(shape, scale 1/shape) (mean 1)."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, gammainc(shape, np.maximum(x, 0) * shape), 0.0)


def lindley(arr: np.ndarray, cap: np.ndarray, q0: float, qmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Queue after each bin and requests abandoned in it (queue capped at qmax)."""
    x = arr - cap
    S = np.cumsum(x)
    q = np.maximum(q0 + S, S - np.minimum.accumulate(np.minimum(S, 0.0)))
    q = np.maximum(q, 0.0)
    if not len(q) or q.max() <= qmax:
        return q, np.zeros_like(q)
    out, ab = np.empty_like(q), np.zeros_like(q)
    cur = q0
    xs = x.tolist()
    for k, xk in enumerate(xs):
        cur = max(0.0, cur + xk)
        if cur > qmax:
            ab[k] = cur - qmax
            cur = qmax
        out[k] = cur
    return out, ab


@dataclass
class Frontend:
    """The north-south network requests and responses cross (impairments from `faults`)."""

    rtt_s: float = 20e-6
    base_rtt_s: float = 20e-6
    loss: float = 0.0
    jitter_s: float = 0.0
    per_server_bytes_per_s: float = math.inf
    capacity_bytes_per_s: float = math.inf
    used_bytes_per_s: list[tuple[float, float, float]] = field(default_factory=list)


@dataclass
class ServiceRun:
    spec: Service
    index: int
    infer: InferenceSpec
    field: str
    rng: np.random.Generator
    deployed: bool = True
    version: int = 0
    deployed_at_s: list[float] = field(default_factory=list)
    replicas: list = field(default_factory=list)  # JobRun, in creation order
    next_id: int = 1
    backlog: float = 0.0
    probe: object = None  # InferenceResult of one replica alone on the empty fabric
    arrived: float = 0.0
    served: float = 0.0
    abandoned: float = 0.0
    rejected: float = 0.0
    attained: float = 0.0
    attained_ttft: float = 0.0
    attained_tpot: float = 0.0
    output_tokens: float = 0.0
    input_tokens: float = 0.0
    w_ttft: float = 0.0  # served-weighted sums
    w_tpot: float = 0.0
    series: list[dict] = field(default_factory=list)
    _grid: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def slots_per_replica(self) -> int:
        d = self.infer.decode
        return self.infer.batch * d.dp * d.replicas

    def _arrivals(self, i0: int, i1: int, bin_s: float) -> np.ndarray:
        """Poisson arrivals per bin on a fixed grid from t = 0, drawn in blocks as time advances, so
        that variants of a factory (other faults, other placements) see the very same requests."""
        while len(self._grid) < i1:
            k = len(self._grid)
            n = max(4096, i1 - k)
            mid = (np.arange(k, k + n) + 0.5) * bin_s
            self._grid = np.concatenate([self._grid, self.rng.poisson(self.rate_at(mid) * bin_s).astype(float)])
        return self._grid[i0:i1]

    def rate_at(self, t: np.ndarray | float):
        s = self.spec
        a = s.arrivals
        lam = a.rate_per_s * (
            1.0 + a.diurnal.amplitude * np.cos(2 * np.pi * (np.asarray(t, dtype=float) / 3600.0 - a.diurnal.peak_h) / 24.0)
        )
        on = np.asarray(t, dtype=float) >= s.start_h * 3600.0
        if s.until_h is not None:
            on &= np.asarray(t, dtype=float) < s.until_h * 3600.0
        return np.where(on, lam, 0.0)

    def live(self) -> list:
        return [r for r in self.replicas if r.status in ("pending", "queued", "running")]

    def capacity_per_replica(self) -> float:
        """Requests/s one replica completes at full batch (running ones, else the probe)."""
        run = [r for r in self.replicas if r.status == "running" and r.rates is not None and r.rates.ok]
        tok = np.mean([r.rates.tokens_per_s for r in run]) if run else self.probe.output_tokens_per_s
        return float(tok) / self.infer.output_tokens

    def desired(self, now: float, tick_s: float) -> int:
        s = self.spec
        if not self.deployed or self.rate_at(now + 1e-9) <= 0 and self.rate_at(now + tick_s) <= 0:
            return 0
        lam = float(max(self.rate_at(now), self.rate_at(now + tick_s)))
        mu = self.capacity_per_replica()
        need = math.ceil(lam / max(mu * s.replicas.target_load, 1e-12))
        if self.backlog > 0:
            need += math.ceil(self.backlog / max(mu * tick_s, 1e-12))
        return int(min(max(need, s.replicas.min), s.replicas.max))

    # -- one epoch -----------------------------------------------------------------------------------
    def advance(self, t0: float, t1: float, bin_s: float, work: dict, fe: Frontend) -> None:
        """Serve the epoch's requests with the replicas' capacity; work[job] = seconds it served."""
        dt = t1 - t0
        # the arrivals of the bins this epoch covers (a bin cut by the epoch's edge gives its share)
        i0 = int(math.floor(t0 / bin_s + 1e-9))
        i1 = max(int(math.ceil(t1 / bin_s - 1e-9)), i0 + 1)
        edges = np.clip(np.arange(i0, i1 + 1) * bin_s, t0, t1)
        w = np.diff(edges)
        keep = w > 0
        w = w[keep]
        nb = len(w)
        arr = self._arrivals(i0, i1, bin_s)[keep] * (w / bin_s)
        lam = arr / np.maximum(w, 1e-12)
        n_arr = float(arr.sum())
        self.arrived += n_arr
        sp = self.infer
        reps = [(r, work.get(r, 0.0)) for r in self.replicas if r.status == "running" and r.rates is not None]
        mu_r = np.array([r.rates.tokens_per_s / sp.output_tokens if r.rates.ok else 0.0 for r, _ in reps])
        frac = np.array([wk / dt if dt > 0 else 0.0 for _, wk in reps])
        mu = float((mu_r * frac).sum()) if len(reps) else 0.0
        row = {
            "t0_h": t0 / 3600,
            "t1_h": t1 / 3600,
            "arrived": n_arr,
            "replicas": len(self.live()),
            "served": 0.0,
            "abandoned": 0.0,
            "rejected": 0.0,
            "attained": 0.0,
            "ttft_s": None,
            "tpot_s": None,
            "backlog": self.backlog,
        }
        for r, _ in reps:
            r.epoch_tokens = r.epoch_input = 0.0
            r.load = 0.0
        if not self.deployed:
            self.rejected += n_arr + self.backlog
            row["rejected"] = n_arr + self.backlog
            self.backlog = 0.0
            self.series.append(row)
            return
        cap = mu * w
        qmax = max(mu, float(lam.mean()) if len(lam) else 0.0) * self.spec.timeout_s
        q0 = self.backlog
        q, ab = lindley(arr, cap, q0, qmax)
        q_prev = np.concatenate([[q0], q[:-1]])
        served = np.maximum(q_prev + arr - q - ab, 0.0)
        self.backlog = float(q[-1]) if len(q) else q0
        n_served = float(served.sum())
        self.served += n_served
        self.abandoned += float(ab.sum())
        # latencies per bin
        if mu > 0 and n_served > 0:
            weights = mu_r * frac / mu
            ttft_c = float(np.dot(weights, [r.rates.ttft_s for r, _ in reps]))
            tpot_B = float(np.dot(weights, [r.rates.tpot_s for r, _ in reps]))
            tpot_1 = float(np.dot(weights, [r.rates.tpot_low_s for r, _ in reps]))
            wait = 0.5 * (q_prev + q) / mu
            seg_in = math.ceil(sp.input_tokens * self.spec.request_bytes_per_token / TCP_SEGMENT_BYTES) + 1
            seg_out = math.ceil(sp.output_tokens * self.spec.response_bytes_per_token / TCP_SEGMENT_BYTES)
            fe_s = fe.rtt_s + sp.input_tokens * self.spec.request_bytes_per_token / fe.per_server_bytes_per_s + fe.jitter_s * 2.0
            slots = float(sum(self.slots_per_replica * fr for fr in frac))
            B = sp.batch
            tpot = np.full(nb, tpot_B)
            for _ in range(2):  # batch the load keeps busy -> TPOT -> time a request holds a slot
                hold = ttft_c + sp.output_tokens * tpot
                occ = np.clip(served / w * hold / max(slots, 1e-12), 0.0, 1.0)
                b = np.maximum(occ * B, 1.0)
                tpot = tpot_1 + (tpot_B - tpot_1) * ((b - 1.0) / (B - 1.0) if B > 1 else 1.0)
            slo = self.spec.slo
            p_in = 1.0 - (1.0 - fe.loss) ** seg_in
            p_out = 1.0 - (1.0 - fe.loss) ** seg_out
            head = slo.ttft_s - wait - fe_s
            p_ttft = (1 - p_in) * gamma_cdf(head / ttft_c, PROMPT_SHAPE) + p_in * gamma_cdf(
                (head - TCP_RTO_S) / ttft_c, PROMPT_SHAPE
            )
            p_tpot = (1 - p_out) * gamma_cdf(slo.tpot_s / tpot, TPOT_SHAPE) + p_out * gamma_cdf(
                (slo.tpot_s - TCP_RTO_S / sp.output_tokens) / tpot, TPOT_SHAPE
            )
            ok = served * p_ttft * p_tpot
            self.attained += float(ok.sum())
            self.attained_ttft += float((served * p_ttft).sum())
            self.attained_tpot += float((served * p_tpot).sum())
            ttft_mean = wait + fe_s + ttft_c + p_in * TCP_RTO_S
            tpot_mean = tpot + p_out * TCP_RTO_S / sp.output_tokens
            self.w_ttft += float((served * ttft_mean).sum())
            self.w_tpot += float((served * tpot_mean).sum())
            row["attained"] = float(ok.sum())
            row["ttft_s"] = float((served * ttft_mean).sum() / n_served)
            row["tpot_s"] = float((served * tpot_mean).sum() / n_served)
            # frontend bytes
            fe.used_bytes_per_s.append(
                (
                    t0,
                    t1,
                    n_served
                    * (
                        sp.input_tokens * self.spec.request_bytes_per_token
                        + sp.output_tokens * self.spec.response_bytes_per_token
                    )
                    / dt,
                )
            )
        out_tok = n_served * sp.output_tokens
        in_tok = n_served * sp.input_tokens
        self.output_tokens += out_tok
        self.input_tokens += in_tok
        load = n_served / (mu * dt) if mu > 0 and dt > 0 else 0.0
        for (r, _), m in zip(reps, mu_r * frac):
            share = m / mu if mu > 0 else 0.0
            r.epoch_tokens = out_tok * share
            r.epoch_input = in_tok * share
            r.load = min(load, 1.0)
        row.update(served=n_served, abandoned=float(ab.sum()), backlog=self.backlog)
        self.series.append(row)


def autoscale(e, s: ServiceRun) -> None:
    """Scale a service to its load (within min/max and the tenant's quota); e is the Engine."""
    want = s.desired(e.now, e.spec.tick_min * 60.0)
    live = s.live()
    q = e.tenancy.quota.get(s.spec.tenant)
    if q is not None:
        used = e.inv.tenant_gpus.get(s.spec.tenant)
        used = 0 if used is None else int(used.sum())
        queued = sum(r.gpus for r in live if r.status == "queued")
        room = max(q - used - queued, 0)
        want = min(want, len(live) + room // s.infer.gpus)
    if want > len(live):
        for _ in range(want - len(live)):
            name = f"{s.name}/r{s.next_id}"
            s.next_id += 1
            j = e.new_job(
                name,
                s.spec.tenant,
                Workload(inference=s.infer),
                s.field,
                s.spec.priority,
                stage="replica",
                service=s.name,
                version=s.version,
            )
            s.replicas.append(j)
        e.changed = True
    elif want < len(live):
        # queued replicas first, then the youngest running ones
        drop = sorted(live, key=lambda r: (r.status == "running", -(r.start_s or 0.0), -r.req.order))[: len(live) - want]
        for r in drop:
            e.stop(r)
        e.changed = True
