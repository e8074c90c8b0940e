"""CommModel backed by the flow-level simulator (tokenfab.sim): routing, ECMP collisions, failed
links and switches, and max-min fair sharing between flows show up in every collective's time.

One occurrence of a collective = every group of it running at once (e.g. a job's 128 data-parallel
rings), built with the simulator's NCCL flow plans, routed together (ECMP hashes every connection)
and run to completion by the max-min engine. Rates do not depend on the message size (every flow
scales with it), so each distinct (collective, GPUs, fabric state) is simulated once and scaled.
Groups that stay inside one server only use NVLink: one of them is simulated (servers are alike).

Jobs sharing the fabric: each job's dominant network collective (most time per step) is run at
the same moment as the others' on one routed plan; its slowdown against running alone, times the
chance that another job's network phase overlaps with it (1 - prod(1 - duty cycle) over the jobs
it shares a fabric link with), stretches its network time. Jobs that share no fabric link (beyond
their own NIC links) cannot slow each other and are not simulated together.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import scipy.sparse as sp

from tokenfab.errors import InputError
from tokenfab.factory.cluster import Cluster
from tokenfab.sim import engine
from tokenfab.sim.api import prepare
from tokenfab.sim.collectives import FlowPlan, build
from tokenfab.sim.faults import Faults
from tokenfab.sim.network import Network, SimParams
from tokenfab.sim.routing import Routing, Transfers
from tokenfab.workload.comm import Collective, CommTime, Contention, JobTraffic

REF_BYTES = 2.0**30  # simulate at 1 GiB of S, scale to the real size


def _plan_of(net: Network, c: Collective, row: np.ndarray) -> FlowPlan:
    if c.kind == "send_recv":  # a chain, both directions
        pairs = np.concatenate([np.stack([row[:-1], row[1:]], 1), np.stack([row[1:], row[:-1]], 1)])
        return build(net, "send_recv", np.unique(row), "p2p", pairs)
    if c.kind == "send":
        return build(net, "send_recv", np.unique(row), "p2p", np.stack([row[:-1], row[1:]], 1))
    return build(net, c.kind, np.sort(row), "ring")


def combine(plans: list[FlowPlan], scale: list[float]) -> tuple[FlowPlan, np.ndarray]:
    """Several flow plans as one (groups offset), each plan's bytes multiplied by its scale."""
    offs = np.cumsum([0] + [p.n_groups for p in plans])
    tr = Transfers.concat(
        [
            Transfers(p.net.grp + o, p.net.w, p.net.src_srv, p.net.src_rail, p.net.dst_srv, p.net.dst_rail)
            for p, o in zip(plans, offs)
        ]
    )
    combo = FlowPlan(
        "combined",
        "mixed",
        0,
        0,
        np.concatenate([p.group_bytes * s for p, s in zip(plans, scale)]),
        sum((p.group_label for p in plans), []),
        tr,
        np.concatenate([p.nvl_grp + o for p, o in zip(plans, offs)]),
        np.concatenate([p.nvl_src for p in plans]),
        np.concatenate([p.nvl_dst for p in plans]),
        np.concatenate([p.nvl_w for p in plans]),
        0,
        0,
    )
    owner = np.repeat(np.arange(len(plans)), [p.n_groups for p in plans])
    return combo, owner


def _per_link(fab, entries, per_row: np.ndarray, neutral: float):
    """Impairment entries as the simulator's Faults take them: one number for every link, or
    link references with their values (a mix of both becomes one entry per affected link)."""
    if not entries:
        return neutral if neutral == 0.0 else None
    if all(ref is None for ref, _ in entries):
        vals = [v for _, v in entries]
        value = max(vals) if neutral == 0.0 else min(vals)
        return value if neutral == 0.0 else {fab.link(r).id: value for r in range(len(fab.links))}
    if any(ref is None for ref, _ in entries):
        rows = np.flatnonzero(per_row != neutral)
        return {fab.link(int(r)).id: float(per_row[r]) for r in rows}
    out: dict[str, float] = {}
    for ref, v in entries:
        out[ref] = max(out.get(ref, neutral), v) if neutral == 0.0 else min(out.get(ref, neutral), v)
    return out


class SimulatorComm:
    name = "simulator"

    def __init__(self, cluster: Cluster, routing: str = "ecmp", seed: int = 0, qps: int = 1, params: SimParams | None = None):
        from tokenfab.factory.network import AnalyticalComm

        self.cluster = cluster
        self.fallback = AnalyticalComm(cluster)  # for groups NCCL's rail-aligned plans cannot express
        self.routing = Routing(mode=routing, qps=qps, seed=seed)
        self.params = params or SimParams()
        self._nets: dict[frozenset, Network] = {}
        self._cache: dict[tuple, tuple] = {}
        self._contention_cache: dict[tuple, tuple] = {}
        self._links: dict[tuple, frozenset] = {}
        self._nic_dirs: np.ndarray | None = None

    # -- the fabric under the current failures ------------------------------------------------
    @property
    def net(self) -> Network:
        cl = self.cluster
        key = (cl.failed_links, cl.impairment)
        n = self._nets.get(key)
        if n is None:
            fab = cl.fabric
            refs = tuple(fab.link(r).id for r in sorted(cl.failed_links))
            imp = cl.impairment
            n = Network(
                fab,
                self.params,
                Faults(
                    down=refs,
                    loss=_per_link(fab, imp.loss, cl.link_loss, 0.0),
                    degrade=_per_link(fab, imp.degrade, cl.link_degrade, 1.0) or {},
                    jitter_s=imp.jitter_s,
                    extra_latency_s=imp.latency_s,
                ),
            )
            self._nets[key] = n
        return n

    def config_lines(self) -> list[str]:
        p, r = self.params, self.routing
        return [
            f"simulator: routing {r.mode} (seed {r.seed}, {r.qps} QP per connection), protocol efficiency "
            f"{p.efficiency}, {p.channels_per_nic} channel(s) per NIC, base latency {p.base_latency_s * 1e6:.1f} us, "
            f"network step {p.net_step_s * 1e6:.1f} us, PXN {'on' if p.pxn else 'off'}; max-min fair flow rates"
        ]

    # -- one collective ------------------------------------------------------------------------------
    def _run(self, c: Collective) -> tuple:
        """(bandwidth seconds per byte of S, latency s, network?, bottleneck, prepared, plan)"""
        key = (self.cluster.version, c.kind, c.groups.shape, hash(c.groups.tobytes()))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        net = self.net
        G = self.cluster.gpus_per_server
        groups = c.groups
        srv = groups // G
        intra = bool((srv == srv[:, :1]).all())
        rows = groups[:1] if intra else groups
        try:
            plans = [_plan_of(net, c, r) for r in rows]
            combo, _ = combine(plans, [1.0] * len(plans)) if len(plans) > 1 else (plans[0], None)
            prep = prepare(net, combo, self.routing)
            res = engine.run(prep.A, net.cap, prep.bytes_per_S * REF_BYTES, stall_per_byte=prep.stall_per_byte)
            lat = prepare(net, plans[0], self.routing).latency_s if len(plans) > 1 else prep.latency_s
            per_byte = res.makespan_s / REF_BYTES
            util = res.resource_bytes / np.maximum(net.cap * max(res.makespan_s, 1e-30), 1e-30)
            b = int(np.argmax(util)) if len(util) else -1
            where = net.resource_name(b) if b >= 0 and util[b] > 0 else ""
            out = (per_byte, lat, not intra, where, prep, combo)
        except (InputError, RuntimeError) as exc:
            if any(k in str(exc) for k in ("down", "no path", "no bandwidth")):  # unreachable: cannot communicate
                out = (np.inf, 0.0, True, f"unreachable: {exc}", None, None)
            else:  # e.g. different local GPUs per server: the alpha-beta model takes it
                t1 = self.fallback.time(Collective(c.kind, c.groups, REF_BYTES, c.parallelism))
                t0 = self.fallback.time(Collective(c.kind, c.groups, 0.5 * REF_BYTES, c.parallelism))
                per_byte = (t1.time_s - t0.time_s) / (0.5 * REF_BYTES)
                out = (per_byte, t1.time_s - per_byte * REF_BYTES, t1.network, t1.bottleneck + " (analytical)", None, None)
        self._cache[key] = out
        return out

    def time(self, c: Collective) -> CommTime:
        per_byte, lat, network, where, _, _ = self._run(c)
        return CommTime(per_byte * c.size_bytes + lat, network, where)

    def time_s(self, kind: str, gpu_group: np.ndarray, size_bytes: float) -> float:
        return self.time(Collective(kind, np.asarray(gpu_group).reshape(1, -1), size_bytes, "adhoc")).time_s

    # -- jobs sharing the fabric --------------------------------------------------------------------------
    def _switch_links(self, c: Collective, prep) -> frozenset:
        """Fabric link directions between switches a collective loads (its own NIC links excluded)."""
        key = (self.cluster.version, c.kind, c.groups.shape, hash(c.groups.tobytes()))
        got = self._links.get(key)
        if got is None:
            net = self.net
            fabric_res = 2 * net.n_links
            if self._nic_dirs is None or len(self._nic_dirs) != fabric_res:
                kinds = net.fabric.links["kind"]
                self._nic_dirs = np.repeat(kinds == "nic", 2)
            used = np.unique(prep.A.indices)
            used = used[used < fabric_res]
            got = frozenset(used[~self._nic_dirs[used]].tolist())
            self._links[key] = got
        return got

    def contention(self, jobs: Sequence[JobTraffic]) -> Contention:
        net = self.net
        info = []
        for j in jobs:
            best, duty, links = None, 0.0, set()
            for c in j.collectives:
                per_byte, lat, network, _, prep, _ = self._run(c)
                if not network or prep is None:
                    continue
                t = per_byte * c.size_bytes + lat
                duty += c.count * t
                links |= self._switch_links(c, prep)
                if best is None or c.count * t > best[0]:
                    best = (c.count * t, c)
            info.append((j, best[1] if best else None, min(1.0, duty / max(j.step_s, 1e-30)), links))
        # jobs that share a fabric link, as connected components
        n = len(info)
        parent = list(range(n))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        owner: dict[int, int] = {}
        for i, (_, _, _, links) in enumerate(info):
            for link in links:
                if link in owner:
                    parent[find(i)] = find(owner[link])
                else:
                    owner[link] = i
        comps: dict[int, list[int]] = {}
        for i in range(n):
            comps.setdefault(find(i), []).append(i)
        stretch: dict[Hashable, float] = {j.key: 1.0 for j in jobs}
        contended: dict[Hashable, list[str]] = {}
        load: dict[str, float] = {}
        for members in comps.values():
            members = [i for i in members if info[i][1] is not None]
            if len(members) < 2:
                continue
            s, con, ld = self._shared(net, [info[i] for i in members])
            stretch.update(s)
            contended.update(con)
            for k, v in ld.items():
                load[k] = max(load.get(k, 0.0), v)
        return Contention(stretch, contended, load)

    def _shared(self, net: Network, members: list[tuple]) -> tuple[dict, dict, dict]:
        key = (self.cluster.version, tuple((j.key, c.key, round(duty, 6)) for j, c, duty, _ in members))
        hit = self._contention_cache.get(key)
        if hit is not None:
            return hit
        plans, scale, alone = [], [], []
        for _, c, _, _ in members:
            per_byte, lat, _, _, prep, combo = self._run(c)
            plans.append(combo)
            scale.append(c.size_bytes)
            alone.append(per_byte * c.size_bytes)
        combo, owner = combine(plans, scale)
        prep = prepare(net, combo, self.routing)
        res = engine.run(prep.A, net.cap, combo.group_bytes, stall_per_byte=prep.stall_per_byte)
        shared_t = np.array([res.finish_s[owner == k].max() for k in range(len(members))])
        # resources each job loads, and who else is on them
        onehot = sp.csr_matrix((np.ones(len(owner)), (np.arange(len(owner)), owner)), shape=(len(owner), len(members)))
        use = (prep.A.T @ onehot).tocsr()  # resources x jobs (bytes per byte)
        users = np.asarray((use > 0).sum(axis=1)).ravel()
        fabric_res = 2 * net.n_links
        span = max(res.makespan_s, 1e-30)
        util = res.resource_bytes / np.maximum(net.cap * span, 1e-30)
        shared_res = np.flatnonzero((users >= 2) & (np.arange(len(users)) < fabric_res))
        stretch, contended, load = {}, {}, {}
        for k, (j, _c, _duty, links) in enumerate(members):
            slow = shared_t[k] / alone[k] if alone[k] > 0 else 1.0
            others = [m for m in range(len(members)) if m != k and links & members[m][3]]
            p_overlap = 1.0 - float(np.prod([1.0 - members[m][2] for m in others])) if others else 0.0
            stretch[j.key] = 1.0 + max(slow - 1.0, 0.0) * p_overlap
            mine = shared_res[np.asarray(use[shared_res, k].todense()).ravel() > 0] if len(shared_res) else []
            top = sorted(mine, key=lambda r: -util[r])[:5]
            if slow > 1.0001 and top:
                contended[j.key] = [net.resource_name(int(r)) for r in top]
        for r in shared_res[np.argsort(-util[shared_res])][:20] if len(shared_res) else []:
            load[net.resource_name(int(r))] = round(float(util[r]), 4)
        out = (stretch, contended, load)
        self._contention_cache[key] = out
        return out
