"""Unexpected interruptions at a published rate, drawn once per run (vectorised).

Llama 3 (arXiv 2407.21783, section 3.3.4): 419 unexpected interruptions in 54 days of pre-training
on 16,384 H100 GPUs, 58.7% of them GPU-related (faulty GPUs, HBM3) and 8.4% switches and cables.
Per GPU-hour that is 419 / (54 x 24 x 16,384) = 1.97e-5, one per ~50,700 GPU-hours; a 256-GPU
factory sees one every ~8 days, a 4,096-GPU one about every 12 hours.

The factory's failures form a Poisson process of rate (per-GPU rate x GPUs); each hits a GPU chosen
uniformly. A `network_share` of them are a fabric link going down instead (for link_repair_h): when
that link is a server's NIC link the server drops out (its jobs are interrupted, as NCCL aborts
on a dead connection); a link between switches only reroutes (BGP withdraws it, ECMP re-hashes).
Any other failure takes the GPU's server out of service for `repair_h` and interrupts whatever ran
on it: a training job restarts from its last checkpoint (the work since is lost), a service
replica is replaced by the autoscaler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tokenfab.errors import InputError
from tokenfab.factory.spec import Failures


@dataclass(frozen=True)
class FailureEvent:
    t_s: float
    kind: str  # server | link
    server: int  # the server hit (server failures, NIC links)
    link_row: int  # the link (link failures), else -1


def draw(
    f: Failures,
    n_gpus: int,
    gpus_per_server: int,
    link_kinds: np.ndarray,
    link_server: np.ndarray,
    window_s: float,
    rng: np.random.Generator,
) -> list[FailureEvent]:
    """link_server: for each link row, the server index of a NIC link, else -1."""
    from tokenfab.factory.bounds import MAX_FAILURES

    rate = f.per_gpu_s * n_gpus
    if not rate * window_s <= MAX_FAILURES:  # checked up front by bounds.check_failures; never a huge draw
        raise InputError(f"{rate * window_s:,.3g} interruptions expected over the window; at most {MAX_FAILURES:,}", "failures")
    n = int(rng.poisson(rate * window_s)) if rate > 0 else 0
    if not n:
        return []
    t = np.sort(rng.uniform(0.0, window_s, size=n))
    gpu = rng.integers(0, n_gpus, size=n)
    is_link = rng.uniform(size=n) < f.network_share
    links = rng.integers(0, max(len(link_kinds), 1), size=n)
    out = []
    for k in range(n):
        if is_link[k] and len(link_kinds):
            row = int(links[k])
            out.append(FailureEvent(float(t[k]), "link", int(link_server[row]), row))
        else:
            out.append(FailureEvent(float(t[k]), "server", int(gpu[k] // gpus_per_server), -1))
    return out


class FailureHandler:
    """What the engine does when a failure strikes and when the part comes back."""

    def __init__(self, engine, spec: Failures):
        self.e = engine
        self.spec = spec

    def on_fail(self, ev) -> None:
        e = self.e
        cl = e.cluster
        if ev.kind == "link":
            ln = e.fabric.link(ev.link_row)
            ref = ln.id
            cl.fail([ref])
            e.changed = True
            e.push(e.now + self.spec.link_repair_h * 3600.0, "repair", ("link", ref, ev.server))
            if ev.server < 0:
                e.log("failure", f"link {ln.a}--{ln.b} down (rerouted)", cause="link")
                return
            hit = self.take_server_down(ev.server, self.spec.link_repair_h)
            e.log(
                "failure",
                f"NIC link of {cl.server_names[ev.server]} down: {', '.join(hit) or 'no job hit'}",
                cause="nic-link",
                server=str(cl.server_names[ev.server]),
            )
            return
        hit = self.take_server_down(ev.server, self.spec.repair_h)
        e.push(e.now + self.spec.repair_h * 3600.0, "repair", ("server", ev.server, ev.server))
        e.log(
            "failure",
            f"{cl.server_names[ev.server]} failed: {', '.join(hit) or 'no job hit'}",
            cause="server",
            server=str(cl.server_names[ev.server]),
        )

    def take_server_down(self, server: int, hours: float) -> list[str]:
        e = self.e
        G = e.cluster.gpus_per_server
        hit = [j for j in e.running if j.placement is not None and (j.placement // G == server).any()]
        for j in hit:
            e.interrupt(j)
        e.inv.down[server] = True
        e.down_until[server] = max(e.down_until.get(server, 0.0), e.now + hours * 3600.0)
        e.changed = True
        return [j.name for j in hit]

    def on_repair(self, payload) -> None:
        e = self.e
        what, ref, server = payload
        if what == "link":
            e.cluster.restore([ref])
        if server is not None and server >= 0 and e.now >= e.down_until.get(server, 0.0) - 1e-6:
            e.inv.down[server] = False
            e.down_until.pop(server, None)
        e.changed = True
