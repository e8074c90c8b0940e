"""Impairments in force: packet loss, jitter, latency and lost capacity on the backend, frontend
and storage networks, and storage tiers slowed down (the `faults:` that are not a part down)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tokenfab.factory.cluster import Impairment
from tokenfab.factory.spec import Fault

if TYPE_CHECKING:
    from tokenfab.factory.engine import Engine


def describe(f: Fault) -> str:
    if f.kind == "storage":
        return f"{f.storage} slowed to {f.slowdown:.0%}"
    return (
        f"{f.network} network: loss {f.loss:g}, jitter {f.jitter_us:g} us, latency {f.latency_us:g} us"
        + (f", {f.degrade:.0%} capacity" if f.degrade < 1 else "")
        + (f" on {f.where}" if f.where else "")
    )


def apply(e: Engine, active: list[Fault]) -> None:
    """Set the fabric, the frontend and the storage to the impairments in `active` (all of them at once)."""
    back = [f for f in active if f.kind == "impairment" and f.network == "backend"]
    imp = Impairment(
        loss=tuple((f.where, f.loss) for f in back if f.loss),
        degrade=tuple((f.where, f.degrade) for f in back if f.degrade < 1),
        jitter_s=sum(f.jitter_us for f in back) * 1e-6,
        latency_s=sum(f.latency_us for f in back) * 1e-6,
    )
    before = e.cluster.version
    e.cluster.impair(imp)
    if e.cluster.version != before:
        e.changed = True
    fe = [f for f in active if f.kind == "impairment" and f.network == "frontend"]
    e.frontend.loss = max([f.loss for f in fe], default=0.0)
    e.frontend.jitter_s = sum(f.jitter_us for f in fe) * 1e-6
    e.frontend.rtt_s = e.frontend.base_rtt_s + 2 * sum(f.latency_us for f in fe) * 1e-6
    if e.storage is not None:
        from tokenfab.sim.faults import goodput_efficiency

        st = [f for f in active if f.kind == "impairment" and f.network == "storage"]
        p = max([f.loss for f in st], default=0.0)
        deg = min([f.degrade for f in st], default=1.0)
        lat = sum(f.latency_us + f.jitter_us for f in st) * 1e-6
        # a TCP/RoCE window of one bandwidth-delay product at 100 us RTT plus added delay
        rtt = 100e-6 + 2 * lat
        win = (
            np.ceil(e.storage.client_bytes_per_s_per_server * rtt / 4096)
            if np.isfinite(e.storage.client_bytes_per_s_per_server)
            else 64
        )
        e.storage.goodput = deg * float(goodput_efficiency(np.array([p]), np.array([win]), "go-back-n")[0])
        slow = {f.storage: f.slowdown for f in active if f.kind == "storage"}
        for name, t in e.storage.tiers.items():
            t.slowdown = slow.get(name, 1.0)
