"""Max-min fair rates by progressive filling, and the event loop that moves bytes.

Coupled flows. The unit of rate allocation is a *group*: a set of transfers that move at one rate
because they are one pipeline. A ring channel is one group (every hop of a pipelined ring runs at
the rate of its slowest hop); a double-binary-tree channel is one group; an all-to-all connection is
its own group. The incidence matrix A (groups x resources, scipy.sparse CSR) holds, for group g and
resource r, the bytes r carries per byte the group delivers: 1 for each hop of a ring on that link,
1/q for one of q QPs, 1/k for a sprayed share, 1/eta for retransmissions under loss; coefficients
of a group's hops that share a link add up.

Max-min fairness (progressive filling): all unfrozen groups rise together at a common rate lambda.
Resource r saturates when  sum_frozen A[g,r] x_g + lambda * sum_unfrozen A[g,r] = cap_r. The
smallest such lambda freezes every unfrozen group crossing a saturated resource at x_g = lambda; the
rest continue. Each round is two sparse matrix-vector products, and there are as many rounds as
distinct bottleneck levels.

Events. Rates are recomputed whenever a group starts or finishes (flows finishing within a relative
1e-9 of each other finish together). Between events group g delivers goodput
u_g = 1 / (1 / x_g + tau_g), where tau_g is its retransmission-timeout stall per byte (faults.py);
the wire carries A^T u. Per-resource load over time and per-group finish times are returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

REL_TOL = 1e-9


def max_min_rates(A: sp.csr_matrix, cap: np.ndarray) -> np.ndarray:
    """Max-min fair rate of each row of A under capacities `cap` (rows with no entries: inf)."""
    G = A.shape[0]
    rate = np.full(G, np.inf)
    if G == 0:
        return rate
    rows = np.arange(G)
    Aa = A
    rem = np.asarray(cap, dtype=np.float64).copy()
    coef = np.asarray(Aa.sum(axis=0)).ravel()
    while len(rows):
        used = coef > 1e-15
        if not used.any():
            break  # the rest cross no resource: unconstrained
        share = np.full(len(rem), np.inf)
        share[used] = np.maximum(rem[used], 0.0) / coef[used]
        lam = share.min()
        bott = (share <= lam * (1 + REL_TOL) + 1e-300).astype(np.float64)
        hit = (Aa @ bott) > 0
        if not hit.any():  # numerical corner: freeze everything left at lam
            hit[:] = True
        rate[rows[hit]] = lam
        frozen = Aa[hit]
        colsum = np.asarray(frozen.sum(axis=0)).ravel()
        rem -= lam * colsum
        coef -= colsum
        rows = rows[~hit]
        Aa = Aa[~hit]
    return rate


@dataclass
class EngineResult:
    finish_s: np.ndarray  # per group
    event_s: np.ndarray  # event times, starting at 0 (len = intervals + 1)
    resource_bytes: np.ndarray  # bytes each resource carried over the whole run
    loads: list[np.ndarray] = field(default_factory=list)  # per interval, bytes/s per recorded resource
    recorded: np.ndarray | None = None  # resource ids in `loads`

    @property
    def makespan_s(self) -> float:
        return float(self.finish_s.max()) if len(self.finish_s) else 0.0


def run(A: sp.csr_matrix, cap: np.ndarray, size: np.ndarray, start_s: np.ndarray | None = None,
        stall_per_byte: np.ndarray | None = None, record: np.ndarray | None = None) -> EngineResult:
    """Move `size` bytes per group from `start_s`, re-solving rates at every start and finish.

    record: resource ids whose load (bytes/s) is kept per interval (None: keep none)."""
    G, R = A.shape
    size = np.asarray(size, dtype=np.float64)
    start = np.zeros(G) if start_s is None else np.asarray(start_s, dtype=np.float64)
    tau = np.zeros(G) if stall_per_byte is None else np.asarray(stall_per_byte, dtype=np.float64)
    remaining = size.copy()
    finish = np.full(G, np.nan)
    finish[size <= 0] = start[size <= 0]
    done = size <= 0
    t = 0.0
    events = [0.0]
    res_bytes = np.zeros(R)
    loads: list[np.ndarray] = []
    AT = A.T.tocsr()
    while not done.all():
        pending = ~done & (start > t * (1 + REL_TOL) + 1e-300)
        active = ~done & ~pending
        if not active.any():
            t = float(start[pending].min())
            events.append(t)
            if record is not None:
                loads.append(np.zeros(len(record)))
            continue
        idx = np.flatnonzero(active)
        x = max_min_rates(A[idx], cap)
        with np.errstate(divide="ignore"):
            u = 1.0 / (1.0 / x + tau[idx])
        instant = ~np.isfinite(u)  # groups that cross no resource finish at once
        if instant.any():
            j = idx[instant]
            finish[j], remaining[j], done[j] = t, 0.0, True
            continue
        if (u <= 0).any():
            raise RuntimeError(f"{int((u <= 0).sum())} flows get no bandwidth (zero capacity on their path)")
        dt_fin = remaining[idx] / u
        dt = float(dt_fin.min())
        if pending.any():
            dt = min(dt, float(start[pending].min()) - t)
        # interval [t, t + dt): rates constant
        wire = np.zeros(G)
        wire[idx] = u
        load = AT @ wire
        res_bytes += load * dt
        if record is not None:
            loads.append(load[record].astype(np.float32))
        remaining[idx] -= u * dt
        ended = idx[(remaining[idx] <= size[idx] * 1e-9) | (dt_fin <= dt * (1 + 1e-9))]
        t = t + dt
        finish[ended] = t
        remaining[ended] = 0
        done[ended] = True
        events.append(t)
    return EngineResult(finish, np.array(events), res_bytes, loads, None if record is None else np.asarray(record))
