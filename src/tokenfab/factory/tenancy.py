"""Tenants: where each may run (sovereignty), how much it may hold (quotas), and the checks that
refuse a factory whose constraints cannot be met.

A place (racks, pods, scalable units or a named site) resolves to a set of servers and the racks
they stand in. A sovereign tenant's jobs, service replicas and evaluation runs may only be placed
on its servers: the scheduler never sees any other server for it (`Inventory.allowed`), so no
placement, restart after a failure or autoscaling step can break the constraint. With
`exclusive: true` every other tenant loses those servers. Its pipelines must run on a CPU pool
and write to storage tiers inside its place, and its checkpoints and models go to a tier there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokenfab.errors import InputError
from tokenfab.factory.cluster import Cluster
from tokenfab.factory.scheduler import Inventory, TopologyAware, place
from tokenfab.factory.spec import FactorySpec, Place, Tier


@dataclass
class Tenancy:
    allowed: dict[str, np.ndarray] = field(default_factory=dict)  # tenant -> servers it may use
    racks: dict[str, frozenset[str]] = field(default_factory=dict)  # sovereign tenant -> its racks
    quota: dict[str, int] = field(default_factory=dict)
    checkpoint_tier: dict[str, str] = field(default_factory=dict)  # tenant -> tier (when not the default)
    registry_tier: dict[str, str] = field(default_factory=dict)

    def usable_gpus(self, tenant: str, cluster: Cluster) -> int:
        m = self.allowed.get(tenant)
        return cluster.n_gpus if m is None else int(m.sum()) * cluster.gpus_per_server


def resolve_place(spec: FactorySpec, cluster: Cluster, p: Place, field_: str) -> tuple[np.ndarray, frozenset[str]]:
    """Servers (mask) and racks of a place; every name checked against the fabric."""
    D = cluster.fabric.devices
    rack = D["rack"][cluster.server_rows].astype(str)
    racks, pods, sus = list(p.racks), list(p.pods), list(p.sus)
    if p.site is not None:
        s = spec.sites[p.site]
        racks, pods, sus = racks + s.racks, pods + s.pods, sus + s.sus
        field_ = f"{field_}.site ({p.site})"
    mask = np.ones(cluster.n_servers, dtype=bool)
    name = cluster.fabric.intent.name
    checks = (
        (racks, rack, "racks", "no rack {bad!r} holds servers of fabric {name!r}; racks with servers: {known}"),
        (pods, cluster.pod, "pods", "no pod {bad} in fabric {name!r}; pods: {known}"),
        (sus, cluster.su, "sus", "no scalable unit {bad} in fabric {name!r}; units: {known}"),
    )
    for wanted, column, key, message in checks:
        if not wanted:
            continue
        known = sorted(set(column.tolist()), key=lambda v: (len(str(v)), v))
        bad = [x for x in wanted if x not in set(known)]
        if bad:
            raise InputError(
                message.format(bad=bad[0], name=name, known=", ".join(map(str, known))),
                field_ if ".site" in field_ else f"{field_}.{key}",
            )
        mask &= np.isin(column, wanted)
    if not mask.any():
        raise InputError("the place holds no servers (its racks, pods and units do not overlap)", field_)
    return mask, frozenset(rack[mask].tolist()) | frozenset(racks)


def _inside(spec, cluster, p: Place, racks: frozenset[str], field_: str) -> bool:
    if not p.given:
        return False
    _, r = resolve_place(spec, cluster, p, field_)
    return r <= racks


def build_tenancy(spec: FactorySpec, cluster: Cluster, units_of: dict[str, list[tuple[str, list[int]]]]) -> Tenancy:
    """Allowed servers and quotas per tenant, refusing constraints that cannot hold.

    units_of: tenant -> [(field, units)] for every job, replica and evaluation it will ask for."""
    ten = Tenancy()
    exclusive: list[tuple[int, str, np.ndarray]] = []
    for k, t in enumerate(spec.tenants):
        if t.quota_gpus is not None:
            ten.quota[t.name] = t.quota_gpus
        if t.sovereignty is None:
            continue
        mask, racks = resolve_place(spec, cluster, t.sovereignty, f"tenants.{k}.sovereignty")
        ten.allowed[t.name] = mask
        ten.racks[t.name] = racks
        if t.sovereignty.exclusive:
            for _k2, other, m2 in exclusive:
                if (m2 & mask).any():
                    raise InputError(
                        f"tenants {other!r} and {t.name!r} both claim servers exclusively (e.g. "
                        f"{cluster.server_names[np.flatnonzero(m2 & mask)[0]]})",
                        f"tenants.{k}.sovereignty",
                    )
            exclusive.append((k, t.name, mask))
    for name in {t.name for t in spec.tenants} | set(units_of):
        taken = np.zeros(cluster.n_servers, dtype=bool)
        for _, other, m in exclusive:
            if other != name:
                taken |= m
        if taken.any():
            ten.allowed[name] = ten.allowed.get(name, np.ones(cluster.n_servers, dtype=bool)) & ~taken
    # every request must fit the tenant's servers and quota on an empty factory
    index = {t.name: k for k, t in enumerate(spec.tenants)}
    for tenant, reqs in sorted(units_of.items()):
        k = index.get(tenant)
        where = f"tenants.{k}" if k is not None else "tenants"
        usable = ten.usable_gpus(tenant, cluster)
        for fld, units in reqs:
            need = sum(units)
            if tenant in ten.quota and need > ten.quota[tenant]:
                raise InputError(
                    f"{fld} needs {need:,} GPUs at once but tenant {tenant!r} has a quota of {ten.quota[tenant]:,}",
                    f"{where}.quota_gpus",
                )
            if tenant not in ten.allowed:
                continue
            inv = Inventory(cluster)
            inv.allowed[tenant] = ten.allowed[tenant]
            if place(inv, TopologyAware(), units, tenant) is None:
                if tenant in ten.racks:
                    why = f"its sovereignty keeps it to {usable:,} GPUs (racks {', '.join(sorted(ten.racks[tenant]))})"
                    fld_err = f"{where}.sovereignty"
                else:
                    why = f"other tenants hold {cluster.n_gpus - usable:,} of the {cluster.n_gpus:,} GPUs exclusively"
                    fld_err = where
                raise InputError(
                    f"{fld} of tenant {tenant!r} needs {need:,} GPUs ({'+'.join(map(str, units))}) but {why}: it can never run",
                    fld_err,
                )
    _check_data_places(spec, cluster, ten)
    return ten


def _check_data_places(spec: FactorySpec, cluster: Cluster, ten: Tenancy) -> None:
    """A sovereign tenant's pipelines, datasets, checkpoints and models stay inside its racks."""
    tiers: dict[str, tuple[int, Tier]] = {t.name: (k, t) for k, t in enumerate(spec.storage.tiers)} if spec.storage else {}
    pools = {p.name: (k, p) for k, p in enumerate(spec.cpu_pools)}
    for k, tier in enumerate(spec.storage.tiers if spec.storage else []):
        if tier.place.given:
            resolve_place(spec, cluster, tier.place, f"storage.tiers.{k}.place")
    for k, pool in enumerate(spec.cpu_pools):
        if pool.place.given:
            resolve_place(spec, cluster, pool.place, f"cpu_pools.{k}.place")
    for tenant, racks in ten.racks.items():

        def inside_tier(name: str, racks=racks) -> bool:
            k, t = tiers[name]
            return _inside(spec, cluster, t.place, racks, f"storage.tiers.{k}.place")

        where = ", ".join(sorted(racks))
        for k, p in enumerate(spec.pipelines):
            if p.tenant != tenant:
                continue
            kp, pool = pools[p.pool]
            if not _inside(spec, cluster, pool.place, racks, f"cpu_pools.{kp}.place"):
                raise InputError(
                    f"tenant {tenant!r} is sovereign (racks {where}) but CPU pool {p.pool!r} is not placed inside them",
                    f"pipelines.{k}.pool",
                )
            if not inside_tier(p.output.tier):
                raise InputError(
                    f"tenant {tenant!r} is sovereign (racks {where}) but tier {p.output.tier!r} is not placed inside them",
                    f"pipelines.{k}.output.tier",
                )
        for k, d in enumerate(spec.datasets):
            if d.tenant == tenant and not inside_tier(d.tier):
                raise InputError(
                    f"tenant {tenant!r} is sovereign (racks {where}) but tier {d.tier!r} is not placed inside them",
                    f"datasets.{k}.tier",
                )
        if not spec.storage:
            continue
        ok = [t.name for t in spec.storage.tiers if inside_tier(t.name)]
        for kind, default, out in (
            ("checkpoints", spec.storage.checkpoint_tier, ten.checkpoint_tier),
            ("registry", spec.storage.registry_tier, ten.registry_tier),
        ):
            if inside_tier(default):
                continue
            if not ok:
                if _needs_storage(spec, tenant, kind):
                    raise InputError(
                        f"tenant {tenant!r} is sovereign (racks {where}) but no storage tier is placed inside "
                        f"them for its {kind}",
                        f"storage.{kind}",
                    )
                continue
            prefer = "parallel-fs" if kind == "checkpoints" else "object-store"
            out[tenant] = next((n for n in ok if tiers[n][1].kind == prefer), ok[0])


def _needs_storage(spec: FactorySpec, tenant: str, kind: str) -> bool:
    if kind == "registry":
        return any(lc.tenant == tenant for lc in spec.lifecycles)
    ck = spec.checkpoint is not None and spec.checkpoint.interval_min != "off"
    return ck and (
        any(j.tenant == tenant and spec.workload_of(j).kind == "training" for j in spec.jobs)
        or any(lc.tenant == tenant for lc in spec.lifecycles)
    )
