"""Placing jobs on servers: pluggable policies over one GPU inventory.

A request is a list of units (a training job is one unit; an inference service one unit per
replica). A unit smaller than a server takes GPUs on one server; a larger one takes whole servers.

- first-fit: the lowest-numbered servers with room, in fabric order (what a naive scheduler does;
  after jobs come and go it scatters jobs across scalable units).
- topology-aware: keep each unit inside the smallest domain that holds it (a scalable unit, whose
  rail leaves connect all its servers without the spines; then a pod; then the whole fabric over
  the fewest scalable units), prefer domains no other tenant uses (tenants then share no leaf
  uplinks where the fabric allows), and among those the tightest fit (best-fit keeps big holes
  for big jobs). Slurm's tree topology and Kueue's topology-aware scheduling work the same way.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tokenfab.factory.cluster import Cluster


class Inventory:
    """Free GPUs per server and which tenants use each scalable unit."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.G = cluster.gpus_per_server
        self.free = np.full(cluster.n_servers, self.G, dtype=np.int64)
        self.used_mask = np.zeros((cluster.n_servers, self.G), dtype=bool)
        self.tenant_gpus: dict[str, np.ndarray] = {}  # tenant -> GPUs per server
        self.down = np.zeros(cluster.n_servers, dtype=bool)  # servers out of service
        self.allowed: dict[str, np.ndarray] = {}  # tenant -> servers it may use (default: all)

    def usable(self, tenant: str) -> np.ndarray:
        """Servers a tenant's job may be placed on: in service and allowed for the tenant."""
        ok = ~self.down
        if tenant in self.allowed:
            ok = ok & self.allowed[tenant]
        return ok

    def free_servers(self, tenant: str | None = None) -> np.ndarray:
        full = self.free == self.G
        return full if tenant is None else full & self.usable(tenant)

    def fits(self, gpus: int, tenant: str) -> np.ndarray:
        """Servers with at least `gpus` free GPUs the tenant may use."""
        return np.flatnonzero((self.free >= gpus) & self.usable(tenant))

    def take(self, gpus: np.ndarray, tenant: str) -> None:
        srv, loc = np.divmod(gpus, self.G)
        assert not self.used_mask[srv, loc].any(), "GPU allocated twice"
        self.used_mask[srv, loc] = True
        np.subtract.at(self.free, srv, 1)
        t = self.tenant_gpus.setdefault(tenant, np.zeros(self.cluster.n_servers, dtype=np.int64))
        np.add.at(t, srv, 1)

    def give_back(self, gpus: np.ndarray, tenant: str) -> None:
        srv, loc = np.divmod(gpus, self.G)
        self.used_mask[srv, loc] = False
        np.add.at(self.free, srv, 1)
        np.subtract.at(self.tenant_gpus[tenant], srv, 1)

    def foreign_per_su(self, tenant: str) -> np.ndarray:
        """Servers used by other tenants in each scalable unit (index = su, 1-based)."""
        cl = self.cluster
        out = np.zeros(cl.n_su + 1, dtype=np.int64)
        for t, per in self.tenant_gpus.items():
            if t != tenant:
                np.add.at(out, cl.su, per > 0)
        return out

    def gpus_on(self, server: int, n: int) -> np.ndarray:
        loc = np.flatnonzero(~self.used_mask[server])[:n]
        return server * self.G + loc


class Policy(Protocol):
    name: str

    def place_unit(self, inv: Inventory, gpus: int, tenant: str) -> np.ndarray | None: ...


class FirstFit:
    name = "first-fit"

    def place_unit(self, inv: Inventory, gpus: int, tenant: str) -> np.ndarray | None:
        G = inv.G
        if gpus < G:
            fits = inv.fits(gpus, tenant)
            return inv.gpus_on(int(fits[0]), gpus) if len(fits) else None
        k = gpus // G
        servers = np.flatnonzero(inv.free_servers(tenant))[:k]
        if len(servers) < k:
            return None
        return (servers[:, None] * G + np.arange(G)).ravel()


class TopologyAware:
    name = "topology-aware"

    def place_unit(self, inv: Inventory, gpus: int, tenant: str) -> np.ndarray | None:
        cl, G = inv.cluster, inv.G
        foreign = inv.foreign_per_su(tenant)
        if gpus < G:
            fits = inv.fits(gpus, tenant)
            if not len(fits):
                return None
            # same-tenant or empty scalable units first, then the fullest server that fits
            key = np.lexsort((fits, inv.free[fits], foreign[cl.su[fits]] > 0))
            return inv.gpus_on(int(fits[key[0]]), gpus)
        k = gpus // G
        free = inv.free_servers(tenant)
        su_free = np.bincount(cl.su[free], minlength=cl.n_su + 1)
        # 1) one scalable unit
        sus = np.flatnonzero(su_free >= k)
        sus = sus[sus > 0]
        if len(sus):
            best = min(sus.tolist(), key=lambda s: (foreign[s] > 0, su_free[s], s))
            return self._take(cl, free, [best], k, G)
        # 2) one pod (three tiers), over the fewest scalable units
        if cl.tiers >= 3 and cl.n_pods > 1:
            pod_of_su = np.zeros(cl.n_su + 1, dtype=np.int64)
            pod_of_su[cl.su] = cl.pod
            pod_free = np.bincount(pod_of_su, weights=su_free, minlength=cl.n_pods + 1)
            pods = [p for p in range(1, cl.n_pods + 1) if pod_free[p] >= k]
            if pods:
                fp = np.bincount(pod_of_su, weights=foreign > 0, minlength=cl.n_pods + 1)
                p = min(pods, key=lambda p: (fp[p] > 0, pod_free[p], p))
                order = [s for s in self._su_order(su_free, foreign) if pod_of_su[s] == p]
                return self._take(cl, free, order, k, G)
        # 3) the whole fabric, over the fewest scalable units
        if free.sum() < k:
            return None
        return self._take(cl, free, self._su_order(su_free, foreign), k, G)

    @staticmethod
    def _su_order(su_free: np.ndarray, foreign: np.ndarray) -> list[int]:
        sus = [s for s in range(1, len(su_free)) if su_free[s] > 0]
        return sorted(sus, key=lambda s: (foreign[s] > 0, -su_free[s], s))

    @staticmethod
    def _take(cl: Cluster, free: np.ndarray, sus: list[int], k: int, G: int) -> np.ndarray:
        chosen: list[int] = []
        for s in sus:
            idx = np.flatnonzero(free & (cl.su == s))
            chosen.extend(idx[: k - len(chosen)].tolist())
            if len(chosen) == k:
                break
        servers = np.sort(np.array(chosen, dtype=np.int64))
        return (servers[:, None] * G + np.arange(G)).ravel()


POLICIES: dict[str, type] = {"first-fit": FirstFit, "topology-aware": TopologyAware}


def place(inv: Inventory, policy: Policy, units: list[int], tenant: str) -> np.ndarray | None:
    """All units or nothing: returns the GPUs (units in order, each unit's GPUs ascending)."""
    taken: list[np.ndarray] = []
    for u in units:
        got = policy.place_unit(inv, u, tenant)
        if got is None:
            for g in taken:
                inv.give_back(g, tenant)
            return None
        inv.take(got, tenant)
        taken.append(got)
    return np.concatenate(taken)
