"""Analytical communication model: alpha-beta on the placed GPUs, from the fabric's link speeds.

Each collective becomes bytes on resources: NVLink out of each GPU, each NIC (per tray and rail),
each rail leaf's uplinks (and downlinks), each pod's spine-to-core links. Its time is the most
loaded resource's bytes over its capacity (the bottleneck, beta term) plus a latency term (alpha:
a launch cost and one hop latency per algorithm step: a ring over N servers pays the network hop
on its 2(N-1) steps between servers only, its other steps the NVLink hop). This is nccl-tests'
bus-bandwidth model (PERFORMANCE.md) made placement-aware:

- rings (all-reduce 2(n-1)/n, reduce-scatter and all-gather (n-1)/n) run one channel per rail:
  consecutive servers exchange over the same rail, so a group with g GPUs per server gets g NICs
  (busbw = min(NVLink, g x NIC): each channel walks through all g GPUs of a server over NVLink
  and back to its rail's GPU, so every GPU's NVLink carries all the ring's bytes), and a group
  with one GPU per server one NIC;
- all-to-all sends S/n to every peer; traffic for a peer on another rail first crosses NVLink to
  the GPU on that rail (NCCL's PXN), so inter-server traffic stays rail-aligned;
- traffic between rail leaves of different scalable units crosses the spines, spread evenly over
  the leaf's uplinks (ideal ECMP); between pods it also crosses the cores. Oversubscription and
  failed links lower those capacities.

Which links a byte crosses follows the plan's own cabling: each NIC counts on its own rail, and
two servers share a leaf when their NICs on that rail are cabled to the same switch (planes fold
together: a NIC's ports on every plane are one resource). So:

- one switch per plane (small clusters, the leaf takes every rail): every inter-server byte stays
  on the switch; the NICs bound it, no uplink is crossed (there are none);
- rail-only (no switch joins two rails): traffic for a GPU on another rail always goes over NVLink
  to the GPU on that rail first (PXN), so the network only ever carries rail-aligned traffic; the
  model assumes PXN is on (NCCL's default), as it must be for such a fabric to work at all;
- several planes: a rail's capacity is the sum over planes (ideal spreading, as NCCL's multi-port
  NICs do); an uplink is a leaf's uplinks on every plane together.

A collective whose traffic needs a resource with no capacity left (every link of it down) takes
forever: its bottleneck then says `unreachable:` and names the resource.

Impairments (packet loss, jitter, extra latency, degraded links) follow the simulator's formulas
(tokenfab.sim.faults): the bandwidth term is divided by the go-back-N goodput efficiency of the
path's loss, a loss during another's recovery costs a retransmission timeout, and every network step
waits for its slowest hop's jitter (jitter x H_m for m concurrent hops).

Jobs running together share leaf uplinks and pod links (servers are never shared between jobs).
`contention` treats each shared resource as processor-sharing: a collective gets the capacity
the other jobs leave on average (1 - their utilisation), never less than an equal share.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tokenfab.catalog.protocols import load_protocols
from tokenfab.factory.cluster import Cluster
from tokenfab.sim.faults import RTO_DEFAULT_S, goodput_efficiency, harmonic, timeouts_per_packet
from tokenfab.sim.network import SimParams
from tokenfab.workload.comm import Collective, CommTime, Contention, JobTraffic

MTU_BYTES = SimParams().mtu_bytes


class AnalyticalConfig(BaseModel):
    """Efficiencies and latencies of the alpha-beta model (assumptions, printed with results)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    nvlink_efficiency: float = Field(
        default_factory=lambda: load_protocols().nvlink.efficiency,
        gt=0,
        le=1,
        description=(
            "Share of NVLink bandwidth collectives reach (catalog/data/protocols.yaml, with its source: NCCL rings reach "
            "~370 of H100's 450 GB/s)."
        ),
    )
    nic_efficiency: float = Field(
        default_factory=lambda: load_protocols().nic.efficiency,
        gt=0,
        le=1,
        description=("Share of NIC line rate reached (catalog/data/protocols.yaml: 46-49 GB/s per 400G ConnectX-7)."),
    )
    launch_nvlink_s: float = Field(
        10e-6, ge=0, description=("Fixed cost per NVLink collective: kernel launch and synchronisation, seconds.")
    )
    launch_network_s: float = Field(
        25e-6,
        ge=0,
        description=(
            "Fixed cost per collective over the network, seconds (DeepEP low-latency dispatch/combine at EP16-256 imply "
            "~25-50 us beyond the bytes)."
        ),
    )
    nvlink_hop_s: float = Field(
        SimParams().nvlink_step_s,
        ge=0,
        description=(
            "Latency of an NVLink step of a collective, seconds (the simulator's: NCCL's tuning model charges a ring's "
            "NVLink step 0.47 us with its low-latency protocol)."
        ),
    )
    nic_hop_s: float = Field(2e-6, ge=0, description="Latency of the RDMA NIC and PCIe at both ends, seconds.")


@dataclass
class _Loads:
    """Bytes of one collective occurrence on each resource."""

    nvlink: float  # the most loaded GPU's NVLink out, bytes
    nic: float  # the most loaded NIC (one direction), bytes / its capacity -> seconds
    nic_s: float
    nic_at: tuple[int, int]  # (tray, rail) of the slowest NIC
    nics_down: int  # NICs the collective needs that have no capacity left
    shared_idx: np.ndarray  # indices into the shared resource space
    shared_bytes: np.ndarray
    switch_hops: int  # switches on the longest path
    network: bool
    servers: int = 1  # servers (NVLink islands) a ring spans, most of any group: its network steps


class AnalyticalComm:
    """CommModel from link speeds and placement (see module doc)."""

    name = "analytical"

    def __init__(self, cluster: Cluster, config: AnalyticalConfig | None = None):
        self.cluster = cluster
        self.config = config or AnalyticalConfig()
        self._cache: dict[tuple, tuple[CommTime, _Loads]] = {}
        self._version = -1
        self.nvlink_bytes_s = cluster.gpu.nvlink_gbytes_per_s_per_direction * 1e9 * self.config.nvlink_efficiency
        c = cluster
        # shared resource space: leaf uplinks, leaf downlinks, pod uplinks, pod downlinks
        self.n_leaf = c.n_leaf_keys
        self.n_pod = c.n_pods + 1
        self._names: list[str] | None = None
        self.p_nic = self.p_fab = self.jitter_s = self.extra_latency_s = 0.0

    # -- capacities (follow failures) --------------------------------------------------------
    def _sync(self) -> None:
        if self._version != self.cluster.version:
            self._cache.clear()
            self._version = self.cluster.version
            cap = self.cluster.capacities
            e = self.config.nic_efficiency
            self.nic_cap = cap.nic * e
            self.shared_cap = np.concatenate([cap.leaf_up, cap.leaf_up, cap.pod_up, cap.pod_up]) * e
            # impairments: mean loss of NIC links and of switch-to-switch links
            cl = self.cluster
            kind = cl.fabric.links["kind"]
            loss = cl.link_loss
            self.p_nic = float(loss[kind == "nic"].mean()) if (kind == "nic").any() else 0.0
            self.p_fab = float(loss[kind != "nic"].mean()) if (kind != "nic").any() else 0.0
            self.jitter_s = cl.impairment.jitter_s
            self.extra_latency_s = cl.impairment.latency_s

    def shared_names(self) -> list[str]:
        if self._names is None:
            leaf = self.cluster.leaf_key_names
            pods = [f"pod-{p}" for p in range(self.n_pod)]
            self._names = (
                [f"{n} uplinks" for n in leaf]
                + [f"{n} downlinks" for n in leaf]
                + [f"{p} spine-core up" for p in pods]
                + [f"{p} spine-core down" for p in pods]
            )
        return self._names

    # -- the protocol ----------------------------------------------------------------------------
    def time(self, c: Collective) -> CommTime:
        return self._eval(c)[0]

    def time_s(self, kind: str, gpu_group: np.ndarray, size_bytes: float) -> float:
        return self.time(Collective(kind, np.asarray(gpu_group).reshape(1, -1), size_bytes, "adhoc")).time_s

    def contention(self, jobs: Sequence[JobTraffic]) -> Contention:
        self._sync()
        cap = self.shared_cap
        n_res = len(cap)
        # per job: its network collectives with loads and alone times
        per_job = []
        for j in jobs:
            items = []
            for c in j.collectives:
                t, ld = self._eval(c)
                if ld.network and len(ld.shared_idx):
                    items.append((c, t, ld))
            per_job.append(items)
        step = np.array([max(j.step_s, 1e-12) for j in jobs])
        bytes_per_step = np.zeros((len(jobs), n_res))
        for i, items in enumerate(per_job):
            for c, _t, ld in items:
                np.add.at(bytes_per_step[i], ld.shared_idx, ld.shared_bytes * c.count)
        stretch = np.ones(len(jobs))
        contended: dict[Hashable, list[str]] = {}
        eff_step = step.copy()
        for _ in range(6):  # fixed point: slower jobs load the links less
            demand = bytes_per_step / eff_step[:, None]  # bytes/s per job per resource
            total = demand.sum(axis=0)
            users = (demand > 0).sum(axis=0)
            new_stretch = np.ones(len(jobs))
            new_step = step.copy()
            for i, items in enumerate(per_job):
                if not items:
                    continue
                others = np.maximum(total - demand[i], 0.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    util = np.where(cap > 0, others / cap, np.inf)
                share = np.maximum(1.0 - util, 1.0 / np.maximum(users - (demand[i] > 0) + 1, 1))
                avail = cap * share
                t_alone = t_now = 0.0
                extra = 0.0
                hit: set[int] = set()
                for c, t, ld in items:
                    a = avail[ld.shared_idx]
                    with np.errstate(divide="ignore"):
                        per = np.where(a > 0, ld.shared_bytes / a, np.inf)
                    k = int(np.argmax(per))
                    bw_alone = t.time_s - self._alpha(c, ld)
                    t_c = max(bw_alone, float(per[k])) + self._alpha(c, ld)
                    if per[k] > bw_alone * 1.0001:
                        hit.add(int(ld.shared_idx[k]))
                    t_alone += c.count * t.time_s
                    t_now += c.count * t_c
                    extra += c.count * (t_c - t.time_s) * (1.0 - c.overlap)
                new_stretch[i] = t_now / t_alone if t_alone > 0 else 1.0
                new_step[i] = step[i] + extra
                if hit:
                    names = self.shared_names()
                    contended[jobs[i].key] = sorted(names[h] for h in hit)
            stretch, eff_step = new_stretch, new_step
        demand = bytes_per_step / eff_step[:, None]
        total = demand.sum(axis=0)
        names = self.shared_names()
        load = {names[r]: round(float(total[r] / cap[r]), 4) if cap[r] > 0 else float("inf") for r in np.flatnonzero(total > 0)}
        return Contention({j.key: float(s) for j, s in zip(jobs, stretch)}, contended, load)

    # -- internals ------------------------------------------------------------------------------
    def _p_path(self, ld: _Loads) -> float:
        fabric_links = 0 if ld.switch_hops <= 1 else ld.switch_hops - 1
        return 1.0 - (1.0 - self.p_nic) ** 2 * (1.0 - self.p_fab) ** fabric_links

    def _window(self, ld: _Loads) -> float:
        rtt = 2 * (self.config.nic_hop_s + ld.switch_hops * (self.cluster.switch_latency_s + self.extra_latency_s))
        nic_bytes_per_s = self.cluster.fabric.design["link_speed_gbps"] * 1e9 / 8
        return float(np.ceil(nic_bytes_per_s * rtt / MTU_BYTES))

    def _eta(self, ld: _Loads) -> float:
        return float(goodput_efficiency(np.array([self._p_path(ld)]), np.array([self._window(ld)]), "go-back-n")[0])

    def _alpha(self, c: Collective, ld: _Loads) -> float:
        cfg = self.config
        n = c.group_size
        steps = _steps(c.kind, n)
        if ld.network:
            hop = cfg.nic_hop_s + ld.switch_hops * (self.cluster.switch_latency_s + self.extra_latency_s)
            if self.jitter_s:
                hop += self.jitter_s * harmonic(int(c.groups.size))
            # A ring over N servers of m GPUs each: NCCL orders a server's GPUs next to each other,
            # so of its 2(n-1) (or n-1) steps only 2(N-1) (N-1) go from one server to the next over
            # the network; the others ride NVLink at its own latency (NCCL's tuning model, tuning.cc,
            # charges a ring's steps the same way: intra-node hops at the NVLink latency, inter-node
            # ones at the network's). All-to-all and point-to-point have one step either way.
            net_steps = _steps(c.kind, ld.servers) if c.kind in _RINGS else steps
            return cfg.launch_network_s + net_steps * hop + (steps - net_steps) * cfg.nvlink_hop_s
        return cfg.launch_nvlink_s + steps * cfg.nvlink_hop_s

    def _eval(self, c: Collective) -> tuple[CommTime, _Loads]:
        self._sync()
        key = c.key
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        ld = self._loads(c)
        t_nvl = ld.nvlink / self.nvlink_bytes_s
        cands = [(t_nvl, "nvlink"), (ld.nic_s, "nic")]
        if len(ld.shared_idx):
            cap = self.shared_cap[ld.shared_idx]
            with np.errstate(divide="ignore"):
                per = np.where(cap > 0, ld.shared_bytes / cap, np.inf)
            k = int(np.argmax(per))
            cands.append((float(per[k]), self.shared_names()[int(ld.shared_idx[k])]))
        t_bw, what = max(cands, key=lambda x: x[0])
        if not np.isfinite(t_bw):  # no capacity left on a resource the collective needs: name it
            what = "unreachable: " + self._no_capacity(what, ld)
        if ld.network and (self.p_nic or self.p_fab):
            t_bw = (
                t_bw / self._eta(ld)
                + ld.nic * float(timeouts_per_packet(self._p_path(ld), self._window(ld), "go-back-n")) * RTO_DEFAULT_S / MTU_BYTES
            )
        out = (CommTime(t_bw + self._alpha(c, ld), ld.network, what), ld)
        self._cache[key] = out
        return out

    def _no_capacity(self, what: str, ld: _Loads) -> str:
        """Why a resource has no capacity: its links are all down (a planned fabric has capacity
        wherever this model sends traffic: same leaf, or its uplinks, or its pod's)."""
        if what == "nic":
            s, r = ld.nic_at
            more = f" and {ld.nics_down - 1} more NICs" if ld.nics_down > 1 else ""
            verb = "have" if more else "has"
            return f"{self.cluster.tray_name[s]}'s rail {r + 1} NIC{more} {verb} no capacity (every link down)"
        return f"{what} have no capacity (every such link down)"

    def _loads(self, c: Collective) -> _Loads:
        cl = self.cluster
        G = cl.gpus_per_server
        groups = np.sort(c.groups, axis=1)
        n = groups.shape[1]
        S = float(c.size_bytes)
        nvl = np.zeros(cl.n_gpus)
        src_l, dst_l, b_l = [], [], []
        if n < 2 or S <= 0:
            return _Loads(0.0, 0.0, 0.0, (0, 0), 0, np.zeros(0, np.int64), np.zeros(0), 0, False)
        servers = 1
        if c.kind in _RINGS:
            f = (2.0 if c.kind == "all_reduce" else 1.0) * (n - 1) / n
            for g_rows, srv in _regular_blocks(groups, G):
                ng, blocks = g_rows.shape[0], srv.shape[1]
                servers = max(servers, blocks)
                per_srv = g_rows.shape[1] // blocks
                if blocks == 1:
                    np.add.at(nvl, g_rows.ravel(), f * S)
                    continue
                if per_srv > 1:
                    # Each rail's channel enters a server at the GPU owning that rail's NIC, walks
                    # through the server's other GPUs and hands the bytes back over NVLink to that
                    # GPU to leave on the same rail (PXN): per_srv NVLink hops per channel, so every
                    # GPU's NVLink carries all the ring's bytes, f * S. Hence nccl-tests' bus
                    # bandwidth bound min(NVLink, NICs x NIC rate) (the simulator's ring, sim/collectives.py).
                    np.add.at(nvl, g_rows.ravel(), f * S)
                # member j of block b sends to member j of block b+1 (one ring channel per rail)
                m = g_rows.reshape(ng, blocks, per_srv)
                nxt = np.roll(m, -1, axis=1)
                src_l.append(m.ravel())
                dst_l.append(nxt.ravel())
                b_l.append(np.full(m.size, f * S / per_srv))
        elif c.kind == "all_to_all":
            ii, jj = np.nonzero(~np.eye(n, dtype=bool))
            src = groups[:, ii].ravel()
            dst = groups[:, jj].ravel()
            same = cl.server_of(src) == cl.server_of(dst)
            np.add.at(nvl, src[same], S / n)
            src_l.append(src[~same])
            dst_l.append(dst[~same])
            b_l.append(np.full(int((~same).sum()), S / n))
        else:  # send_recv chain (both directions) or send (one direction), in the given order
            g = c.groups
            a = g[:, :-1].ravel()
            b = g[:, 1:].ravel()
            src = np.concatenate([a, b]) if c.kind == "send_recv" else a
            dst = np.concatenate([b, a]) if c.kind == "send_recv" else b
            same = cl.server_of(src) == cl.server_of(dst)
            np.add.at(nvl, src[same], S)
            src_l.append(src[~same])
            dst_l.append(dst[~same])
            b_l.append(np.full(int((~same).sum()), S))
        src = np.concatenate(src_l) if src_l else np.zeros(0, np.int64)
        dst = np.concatenate(dst_l) if dst_l else np.zeros(0, np.int64)
        byt = np.concatenate(b_l) if b_l else np.zeros(0)
        if not len(src):
            return _Loads(float(nvl.max()), 0.0, 0.0, (0, 0), 0, np.zeros(0, np.int64), np.zeros(0), 0, False)
        ss, sd = cl.server_of(src), cl.server_of(dst)
        ts, td = cl.tray_of(src), cl.tray_of(dst)  # whose NICs carry it (a tray of a scale-up domain)
        rail = cl.rail_of(dst)
        relay = cl.rail_of(src) != rail  # PXN: first hop over NVLink to the GPU on the peer's rail
        np.add.at(nvl, src[relay], byt[relay])
        nic_out = np.zeros((cl.n_trays, cl.rails))
        nic_in = np.zeros((cl.n_trays, cl.rails))
        np.add.at(nic_out, (ts, rail), byt)
        np.add.at(nic_in, (td, rail), byt)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_out = np.where(nic_out > 0, nic_out / self.nic_cap, 0.0)
            t_in = np.where(nic_in > 0, nic_in / self.nic_cap, 0.0)
        t_nic = np.maximum(t_out, t_in)
        at = np.unravel_index(int(np.argmax(t_nic)), t_nic.shape)
        nic_s = float(t_nic[at])
        ks, kd = cl.leaf_key(ts, rail), cl.leaf_key(td, rail)
        cross = ks != kd
        idx = [ks[cross], self.n_leaf + kd[cross]]
        vals = [byt[cross], byt[cross]]
        hops = 1
        if cross.any():
            hops = 3
        if cl.tiers >= 3:
            ps, pd = cl.pod[ss], cl.pod[sd]
            pc = ps != pd
            if pc.any():
                hops = 5
                idx += [2 * self.n_leaf + ps[pc], 2 * self.n_leaf + self.n_pod + pd[pc]]
                vals += [byt[pc], byt[pc]]
        all_idx = np.concatenate(idx)
        all_val = np.concatenate(vals)
        if len(all_idx):
            uniq, inv = np.unique(all_idx, return_inverse=True)
            sums = np.bincount(inv, weights=all_val)
        else:
            uniq, sums = np.zeros(0, np.int64), np.zeros(0)
        nic_at, nics_down = (int(at[0]), int(at[1])), int(np.isinf(t_nic).sum())
        nic_bytes = float(max(nic_out.max(), nic_in.max()))
        return _Loads(float(nvl.max()), nic_bytes, nic_s, nic_at, nics_down, uniq, sums, hops, True, servers)


_RINGS = ("all_reduce", "reduce_scatter", "all_gather")


def _steps(kind: str, n: int) -> int:
    """Algorithm steps of a collective over n ranks (a ring's, or one for all-to-all and p2p)."""
    if kind == "all_reduce":
        return 2 * (n - 1)
    return n - 1 if kind in _RINGS else 1


def _regular_blocks(groups: np.ndarray, G: int):
    """Split sorted groups into batches where every group spans `blocks` servers with the same
    number of members on each: yields (rows, servers-per-row) pairs. Irregular rows come one by
    one, trimmed to the smallest per-server count (NCCL builds its rings the same way)."""
    srv = groups // G
    n = groups.shape[1]
    counts = (np.diff(srv, axis=1) != 0).sum(axis=1) + 1  # servers per (sorted) group
    for blocks in np.unique(counts).tolist():
        rows = np.flatnonzero(counts == blocks)
        if n % blocks == 0:
            per = n // blocks
            sub = srv[rows].reshape(len(rows), blocks, per)
            ok = (sub == sub[:, :, :1]).all(axis=(1, 2))
            if ok.any():
                r = rows[ok]
                yield groups[r], srv[r][:, ::per]
            rows = rows[~ok]
        for r in rows.tolist():
            u, cnt = np.unique(srv[r], return_counts=True)
            per = int(cnt.min())
            members = np.concatenate([groups[r][srv[r] == s][:per] for s in u])
            yield members.reshape(1, -1), u.reshape(1, -1)
