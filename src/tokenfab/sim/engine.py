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
smallest such lambda freezes every unfrozen group crossing a saturated resource at x_g = lambda (resources
within a relative 1e-4 of lambda saturate together: at 10^5 flows this cuts thousands of nearly equal
levels to hundreds, and errs on the slow side by at most 0.01%); the rest continue. Each round is two
sparse matrix-vector products, and there are as many rounds as distinct bottleneck levels.

Events. Rates are recomputed whenever a group starts, and as groups finish (every finish while a
few hundred run; in batches of 1% of the running groups for very large all-to-alls, see run()).
Between events group g delivers goodput
u_g = 1 / (1 / x_g + tau_g), where tau_g is its retransmission-timeout stall per byte (faults.py);
the wire carries A^T u. Per-resource load over time and per-group finish times are returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

REL_TOL = 1e-4  # rates (and finish times) within 0.01% of each other count as one level (one event)
RESOLVE_FRACTION = 0.01  # re-solve after this share of the running flows has finished (see run())


def _entries(indptr: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions of all stored entries of rows `ids` of a CSR structure."""
    starts = indptr[ids]
    lens = indptr[ids + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    return offs + np.arange(total)


class MaxMin:
    """Progressive filling on a fixed matrix; each solve takes the subset of rows that is running.

    A round finds the smallest fill level lambda at which an active resource saturates, freezes
    the unfrozen rows crossing the saturated resources (found through the transposed matrix, so a
    round costs what it touches), and removes their load. A saturated resource has no unfrozen row
    left, so every resource is scanned once per solve."""

    def __init__(self, A: sp.csr_matrix, cap: np.ndarray):
        self.A = A.tocsr()
        self.A.sum_duplicates()
        self.AT = self.A.T.tocsr()
        self.cap = np.asarray(cap, dtype=np.float64)
        # a NaN capacity or coefficient would make every round freeze nothing: refuse it here
        if not (np.isfinite(self.A.data).all() and not np.isnan(self.cap).any()):
            raise ValueError("max-min: capacities and coefficients must be numbers (found NaN or inf)")

    def solve(self, active: np.ndarray | None = None) -> np.ndarray:
        A, AT = self.A, self.AT
        G, R = A.shape
        rate = np.zeros(G)
        if active is None:
            active = np.ones(G, dtype=bool)
        ids = np.flatnonzero(active)
        rate[ids] = np.inf
        if not len(ids):
            return rate
        e = _entries(A.indptr, ids)
        cols, vals = A.indices[e], A.data[e]
        coef = np.bincount(cols, weights=vals, minlength=R)
        live = np.bincount(cols, minlength=R)  # unfrozen rows per resource
        rem = self.cap.copy()
        frozen = ~active.copy()
        while True:
            c = np.flatnonzero(live > 0)
            if not len(c):
                break  # what is left crosses no resource: unconstrained
            share = np.maximum(rem[c], 0.0) / np.maximum(coef[c], 1e-300)
            lam = share.min()
            bott = c[share <= lam * (1 + REL_TOL)]
            rows = AT.indices[_entries(AT.indptr, bott)]
            rows = np.unique(rows[~frozen[rows]])
            if not len(rows):  # cannot happen with finite inputs; never loop if it does
                raise ValueError(f"max-min: no progress at fill level {lam}")
            rate[rows] = lam
            frozen[rows] = True
            e = _entries(A.indptr, rows)
            cols, vals = A.indices[e], A.data[e]
            rem -= lam * np.bincount(cols, weights=vals, minlength=R)
            coef -= np.bincount(cols, weights=vals, minlength=R)
            live -= np.bincount(cols, minlength=R)
        return rate


def max_min_rates(A: sp.csr_matrix, cap: np.ndarray) -> np.ndarray:
    """Max-min fair rate of each row of A under capacities `cap` (rows with no entries: inf)."""
    return MaxMin(A, cap).solve()


@dataclass
class EngineResult:
    finish_s: np.ndarray  # per group
    event_s: np.ndarray  # times the rates changed, from 0 to the end (len = intervals + 1)
    resource_bytes: np.ndarray  # bytes each resource carried over the whole run
    loads: list[np.ndarray] = field(default_factory=list)  # per interval, bytes/s per recorded resource
    recorded: np.ndarray | None = None  # resource ids in `loads`
    solves: int = 0  # max-min solves

    @property
    def makespan_s(self) -> float:
        return float(self.finish_s.max()) if len(self.finish_s) else 0.0


def run(
    A: sp.csr_matrix,
    cap: np.ndarray,
    size: np.ndarray,
    start_s: np.ndarray | None = None,
    stall_per_byte: np.ndarray | None = None,
    record: np.ndarray | None = None,
    resolve_fraction: float = RESOLVE_FRACTION,
    alias: tuple[np.ndarray, np.ndarray] | None = None,
) -> EngineResult:
    """Move `size` bytes per group from `start_s`, re-solving rates as flows start and finish.

    Rates are re-solved at every start, and after max(1, resolve_fraction x running) flows have
    finished since the last solve (flows finishing within a relative REL_TOL finish together). In
    between, the others keep their rates, which stays feasible (load only drops) and errs on the
    slow side; with the default 1% a collective of a few hundred flows is solved at every finish,
    and an all-to-all of 10^5 flows a few hundred times instead of 10^5.
    record: resource ids whose load (bytes/s) is kept per interval (None: keep none).
    alias: (members, representatives): resources that carry exactly what another one carries
    (sprayed parallel links, routing.py); their load is copied from the representative."""
    G, R = A.shape
    solver = MaxMin(A, cap)
    AT = solver.AT
    size = np.asarray(size, dtype=np.float64)
    start = np.zeros(G) if start_s is None else np.asarray(start_s, dtype=np.float64)
    tau = np.zeros(G) if stall_per_byte is None else np.asarray(stall_per_byte, dtype=np.float64)
    for name, arr in (("size", size), ("start_s", start), ("stall_per_byte", tau)):
        if not np.isfinite(arr).all():  # a NaN time never ends a flow: the loop would not either
            raise ValueError(f"engine.run: {name} must be finite (found NaN or inf)")
    remaining = size.copy()
    finish = np.full(G, np.nan)
    done = size <= 0
    finish[done] = start[done]
    t = 0.0
    events = [0.0]
    res_bytes = np.zeros(R)
    loads: list[np.ndarray] = []
    solves = 0
    u = np.zeros(G)
    stale = True  # rates must be re-solved
    ended_since = 0
    budget = 1
    while not done.all():
        pending = ~done & (start > t * (1 + REL_TOL) + 1e-300)
        active = ~done & ~pending
        if not active.any():
            t = float(start[pending].min())
            events.append(t)
            if record is not None:
                loads.append(np.zeros(len(record), dtype=np.float32))
            stale = True
            continue
        if stale:
            x = solver.solve(active)
            solves += 1
            with np.errstate(divide="ignore"):
                u = np.where(active, 1.0 / (1.0 / x + tau), 0.0)
            instant = active & ~np.isfinite(u)  # groups that cross no resource finish at once
            if instant.any():
                finish[instant], remaining[instant], done[instant] = t, 0.0, True
                continue
            if (u[active] <= 0).any():
                raise RuntimeError(f"{int((u[active] <= 0).sum())} flows get no bandwidth (zero capacity on their path)")
            stale, ended_since = False, 0
            budget = max(1, int(resolve_fraction * active.sum()))
        idx = np.flatnonzero(active)
        dt_fin = remaining[idx] / u[idx]
        dt = float(dt_fin.min())
        if pending.any():
            next_start = float(start[pending].min()) - t
            if next_start < dt:
                dt, stale = next_start, True
        load = AT @ u
        if alias is not None:
            load[alias[0]] = load[alias[1]]
        res_bytes += load * dt
        if record is not None:
            loads.append(load[record].astype(np.float32))
        remaining[idx] -= u[idx] * dt
        ended = idx[(remaining[idx] <= size[idx] * 1e-9) | (dt_fin <= dt * (1 + REL_TOL))]
        t = t + dt
        finish[ended] = t
        remaining[ended] = 0.0
        done[ended] = True
        u[ended] = 0.0
        ended_since += len(ended)
        if ended_since >= budget:
            stale = True
        events.append(t)
    return EngineResult(finish, np.array(events), res_bytes, loads, None if record is None else np.asarray(record), solves)
