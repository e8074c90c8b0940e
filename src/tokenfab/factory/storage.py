"""Storage tiers reached over the storage fabric, shared by everything that reads and writes.

Bandwidth limits, all in bytes/s:
- the storage fabric: the plan's storage network (`fabric.design["networks"]["storage"]`, sized
  from the intent's `storage:` section): what its spines carry (bisection) and what the storage
  nodes' ports take, whichever is smaller; without a storage network, the frontend network
  (converged); `storage.fabric_gbps` overrides it. Packet loss on it costs the go-back-N goodput
  of tokenfab.sim.faults;
- each tier's read and write bandwidth (times the slowdown of a storage fault in force);
- each client: a job's servers' storage NICs (nics_per_server x speed of the storage network).

Steady flows (training reading its dataset, pipelines writing curated data, checkpoints' average
write rate) share these by max-min fairness (progressive filling). Bursts (a checkpoint write, a
restore after a failure, a replica loading its weights) get what the steady flows leave, and at
least an equal share. Capacity: datasets, the last `keep` checkpoints of each job, and every
registered model version occupy their tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokenfab.errors import InputError
from tokenfab.factory.spec import FactorySpec, Tier

GB = 1e9
TB = 1e12
STORAGE_EFFICIENCY = 0.9  # TCP/RDMA and file-system protocol overhead on the storage fabric


@dataclass
class TierState:
    spec: Tier
    slowdown: float = 1.0
    used_bytes: float = 0.0
    peak_bytes: float = 0.0
    written: dict[str, float] = field(default_factory=dict)  # by what: dataset, checkpoint, model
    read: dict[str, float] = field(default_factory=dict)  # by what: training, restore, model-load

    @property
    def capacity_bytes(self) -> float:
        return self.spec.capacity_tbytes * TB

    @property
    def free_bytes(self) -> float:
        return max(self.capacity_bytes - self.used_bytes, 0.0)

    def write(self, what: str, nbytes: float) -> None:
        self.written[what] = self.written.get(what, 0.0) + nbytes

    def read_bytes(self, what: str, nbytes: float) -> None:
        self.read[what] = self.read.get(what, 0.0) + nbytes

    def occupy(self, nbytes: float) -> None:
        self.used_bytes = max(self.used_bytes + nbytes, 0.0)
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)


@dataclass
class Flow:
    """A steady demand on the storage system: `demand` bytes/s at most, through `tier`'s read or
    write side, limited to `client` bytes/s by its own NICs."""

    key: object
    tier: str
    write: bool
    demand: float
    client: float = np.inf


def max_min(flows: list[Flow], fabric: float, tiers: dict[str, tuple[float, float]]) -> np.ndarray:
    """Progressive filling: every flow grows at the same pace until its demand, its client limit
    or a shared resource (the fabric, a tier's read or write side) runs out."""
    n = len(flows)
    alloc = np.zeros(n)
    if not n:
        return alloc
    res_names = ["fabric"] + [f"{t}:{s}" for t in tiers for s in ("r", "w")]
    cap = np.array([fabric] + [v for t in tiers for v in tiers[t]], dtype=float)
    use = np.zeros((n, len(res_names)), dtype=bool)
    use[:, 0] = True
    idx = {nm: i for i, nm in enumerate(res_names)}
    for i, f in enumerate(flows):
        use[i, idx[f"{f.tier}:{'w' if f.write else 'r'}"]] = True
    limit = np.array([min(f.demand, f.client) for f in flows], dtype=float)
    active = limit > 0
    left = cap.copy()
    for _ in range(n + len(cap) + 1):
        if not active.any():
            break
        users = (use & active[:, None]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_res = np.where(users > 0, left / np.maximum(users, 1), np.inf)
        inc = min(float(per_res.min()), float((limit - alloc)[active].min()))
        inc = max(inc, 0.0)
        alloc[active] += inc
        left -= inc * (use & active[:, None]).sum(axis=0)
        full_res = left <= 1e-9 * np.maximum(cap, 1.0)
        done = (limit - alloc <= 1e-9 * np.maximum(limit, 1.0)) | (use & full_res[None, :]).any(axis=1)
        active &= ~done
    return alloc


class StorageLayer:
    def __init__(self, spec: FactorySpec, cluster):
        self.spec = spec
        st = spec.storage
        self.tiers = {t.name: TierState(t) for t in st.tiers}
        nets = cluster.fabric.design.get("networks") or {}
        side = nets.get("storage") or nets.get("frontend")
        intent = cluster.fabric.intent
        net_spec = intent.storage if nets.get("storage") else intent.frontend
        if st.fabric_gbps is not None:
            gbps = st.fabric_gbps
            self.fabric_source = f"storage.fabric_gbps = {gbps:g} Gb/s (override)"
        elif side:
            parts = [side["bisection_gbps"]] + ([side["storage_gbps"]] if side.get("storage_gbps") else [])
            gbps = float(min(parts))
            what = "storage network" if nets.get("storage") else "frontend network (no storage network: converged)"
            self.fabric_source = (
                f"{what} of the plan: {side['leaves']} leaves, {side['spines']} spines of "
                f"{side['switch_model']}; bisection {side['bisection_gbps']:,.0f} Gb/s, storage node "
                f"ports {side.get('storage_gbps', 0):,.0f} Gb/s -> {gbps:,.0f} Gb/s"
            )
        else:
            raise InputError(
                f"the factory has storage tiers but fabric {intent.name!r} plans no storage (or frontend) "
                f"network to reach them: add a storage: section to the intent, or set storage.fabric_gbps",
                "storage",
            )
        self.fabric_nominal_bytes_per_s = gbps * 1e9 / 8 * STORAGE_EFFICIENCY
        if net_spec is not None:
            self.client_bytes_per_s_per_server = net_spec.nics_per_server * net_spec.speed_gbps * 1e9 / 8 * STORAGE_EFFICIENCY
        else:
            self.client_bytes_per_s_per_server = np.inf
        self.goodput = 1.0  # loss on the storage network
        self.impair_latency_s = 0.0
        self.fabric_util: list[tuple[float, float, float]] = []  # (t0, t1, share of fabric used)
        self.alloc: dict[object, float] = {}
        self._steady_total = 0.0

    # -- bandwidth ------------------------------------------------------------------------------
    @property
    def fabric_bytes_per_s(self) -> float:
        return self.fabric_nominal_bytes_per_s * self.goodput

    def tier_bw(self, name: str) -> tuple[float, float]:
        t = self.tiers[name]
        return (t.spec.read_gbytes_per_s * GB * t.slowdown, t.spec.write_gbytes_per_s * GB * t.slowdown)

    def allocate(self, flows: list[Flow]) -> dict[object, float]:
        tiers = {n: self.tier_bw(n) for n in self.tiers}
        a = max_min(flows, self.fabric_bytes_per_s, tiers)
        self.alloc = {f.key: float(x) for f, x in zip(flows, a)}
        self._flows = flows
        self._steady_total = float(a.sum())
        self._steady_by_tier = {}
        for f, x in zip(flows, a):
            k = (f.tier, f.write)
            self._steady_by_tier[k] = self._steady_by_tier.get(k, 0.0) + float(x)
        return self.alloc

    def burst_bytes_per_s(self, tier: str, write: bool, client_bytes_per_s: float, own_steady: float = 0.0) -> float:
        """Bandwidth for a burst (checkpoint write, restore, weight load) next to the steady flows."""
        r, w = self.tier_bw(tier)
        side = w if write else r
        n_users = 1 + sum(1 for f in getattr(self, "_flows", []) if f.tier == tier and f.write == write)
        side_left = max(side - self._steady_by_tier_get(tier, write) + own_steady, side / n_users)
        fab_users = 1 + len(getattr(self, "_flows", []))
        fab_left = max(self.fabric_bytes_per_s - self._steady_total + own_steady, self.fabric_bytes_per_s / fab_users)
        return max(min(side_left, fab_left, client_bytes_per_s), 1.0)

    def _steady_by_tier_get(self, tier: str, write: bool) -> float:
        return getattr(self, "_steady_by_tier", {}).get((tier, write), 0.0)

    def client_bytes_per_s(self, servers: int) -> float:
        return servers * self.client_bytes_per_s_per_server

    def record(self, t0: float, t1: float, used_bytes_per_s: float) -> None:
        cap = self.fabric_bytes_per_s
        self.fabric_util.append((t0, t1, used_bytes_per_s / cap if cap > 0 else 0.0))
