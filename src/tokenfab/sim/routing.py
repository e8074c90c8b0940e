"""Which links a transfer crosses: ECMP hashing, adaptive routing per flowlet, packet spraying.

A *transfer* is one NCCL connection between two servers: source server and rail (the NIC port it
leaves from), destination server and rail, and a weight (its share of its coupled flow, see
engine.py). With several planes a transfer is split evenly over the planes (each plane is its own
fabric). Routing walks every transfer from its source leaf to its destination leaf one switch at a
time; at each switch the candidates are the link directions to neighbours one hop closer to the
destination leaf (shortest paths over the links that are up, i.e. BGP multipath over equal AS-path
lengths). Parallel links between two switches are separate ECMP members.

ECMP (`ecmp`): each queue pair (QP) of a connection is its own RoCEv2 flow. The switch hashes the
flow's 5-tuple, the fields the catalog's ECMP hash lists (tokenfab/catalog/data/ecmp-hash.yaml,
the same list the configure stage writes as SWITCH_HASH; only the fields it lists are hashed),
salted with a per-switch seed, and takes member `hash mod n`:
    src/dst IP = the NICs' addresses from the plan, IP protocol 17 (UDP), destination port 4791
    (RoCEv2), source port = 0xC000 | (mix(QPN) & 0x3FFF): RoCE NICs derive the UDP source port
    from the QP number, and QP numbers are allocated per NIC from a base that changes run to run
    (the `seed`). `qps` QPs per connection (NCCL_IB_QPS_PER_CONNECTION) split its bytes evenly.
  The hash is a 64-bit mixer (splitmix64 finalizer), not a vendor CRC: what matters for collisions
  is that it is uniform and independent per switch. `per_switch_seed=False` uses one seed on every
  switch, which reproduces hash polarization.

Adaptive routing (`adaptive`): every QP is cut into `flowlets` flowlets; at each switch a flowlet
  goes to the least-loaded candidate, load being the bytes/s already placed on that link divided by
  its capacity (so degraded links get less). Flowlets sharing a switch and candidate set are placed
  together by water-filling (the fluid limit of "least-loaded next hop" with flowlet granularity).
  The switch sees only its own ports, not congestion further on.

Spraying (`spray`): every packet picks a member uniformly, so a transfer splits evenly over the
  candidates at every switch (and thus evenly over all equal-cost paths of a Clos). Parallel links
  between two switches then carry identical loads; they are routed as one entry on the bundle's
  first link, whose capacity becomes the smallest of the bundle (`spray_bundles`), and the engine
  copies the load back to every member: exact, and 16 parallel links cost one entry, not 16.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from tokenfab.catalog.hashing import ecmp_hash
from tokenfab.errors import InputError
from tokenfab.sim.network import Network

MODES = ("ecmp", "adaptive", "spray")
HASH_FIELDS = ("SRC_IP", "DST_IP", "IP_PROTOCOL", "L4_SRC_PORT", "L4_DST_PORT")  # 5-tuple order
UDP = 17
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class Routing:
    mode: str = "ecmp"
    qps: int = 1  # QPs per connection (NCCL_IB_QPS_PER_CONNECTION)
    flowlets: int = 8  # adaptive: flowlets per QP
    seed: int = 0  # QP numbers and switch hash seeds
    per_switch_seed: bool = True

    def __post_init__(self):
        if self.mode not in MODES:
            raise InputError(f"unknown routing {self.mode!r}; use one of {', '.join(MODES)}", "routing")
        if self.qps < 1:
            raise InputError(f"QPs per connection must be >= 1, got {self.qps}", "qps")
        if self.flowlets < 1:
            raise InputError(f"flowlets must be >= 1, got {self.flowlets}", "flowlets")


@cache
def hash_fields() -> tuple[str, ...]:
    """The fields switches hash on (the catalog's ECMP hash), in 5-tuple order."""
    names = set(ecmp_hash().ecmp_hash)
    return tuple(f for f in HASH_FIELDS if f in names)


def mix64(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _M1
        x ^= x >> np.uint64(27)
        x *= _M2
        x ^= x >> np.uint64(31)
    return x


@dataclass
class Transfers:
    """Network transfers (one per NCCL connection), as parallel arrays."""

    grp: np.ndarray  # coupled flow (group) the transfer belongs to
    w: np.ndarray  # bytes it carries per byte of its group
    src_srv: np.ndarray
    src_rail: np.ndarray
    dst_srv: np.ndarray
    dst_rail: np.ndarray

    def __len__(self) -> int:
        return len(self.grp)

    @classmethod
    def empty(cls) -> Transfers:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, np.zeros(0), z, z, z, z)

    @classmethod
    def concat(cls, parts: list[Transfers]) -> Transfers:
        parts = [p for p in parts if len(p)] or [cls.empty()]
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("grp", "w", "src_srv", "src_rail", "dst_srv", "dst_rail"))
        )


@dataclass
class Routed:
    """Incidence entries of routed transfers and what each transfer saw on its way."""

    t: np.ndarray  # transfer index per entry
    res: np.ndarray  # resource (link direction) per entry
    coef: np.ndarray  # bytes on that resource per byte of the transfer's group
    latency_s: np.ndarray  # per transfer: one-way fabric latency (slowest piece)
    loss_p: np.ndarray  # per transfer: packet loss probability along its path


def _group_max(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    np.maximum.at(out, keys, values)
    return out


@dataclass
class _Pieces:
    """Parts of transfers on their way: transfer, current switch, destination leaf, weight, hash of
    the flow's header fields, latency and log(1 - loss) so far."""

    t: np.ndarray
    node: np.ndarray
    dst: np.ndarray
    w: np.ndarray
    flow_h: np.ndarray
    lat: np.ndarray
    logkeep: np.ndarray

    FIELDS = ("t", "node", "dst", "w", "flow_h", "lat", "logkeep")

    def take(self, m) -> _Pieces:
        return _Pieces(*(getattr(self, a)[m] for a in self.FIELDS))

    @classmethod
    def concat(cls, parts: list[_Pieces]) -> _Pieces:
        return cls(*(np.concatenate([getattr(p, a) for p in parts]) for a in cls.FIELDS))


def _candidates(net: Network, node: np.ndarray, dst: np.ndarray):
    """For each piece: its (node, dst) pair index, and per pair the candidate link directions."""
    key = node * net.n_dev + dst
    ukey, inv = np.unique(key, return_inverse=True)
    un, ud = np.divmod(ukey, net.n_dev)
    col = net.dist_cols(ud)
    dist = net.dist
    here = dist[un, col].astype(np.int64)
    deg = net.adj_ptr[un + 1] - net.adj_ptr[un]
    rep = np.repeat(np.arange(len(ukey)), deg)
    first = np.repeat(np.cumsum(deg) - deg, deg)
    pos = net.adj_ptr[un][rep] + (np.arange(len(rep)) - first)
    cdir, cnbr = net.adj_dir[pos], net.adj_nbr[pos]
    ok = dist[cnbr, col[rep]].astype(np.int64) == here[rep] - 1
    cdir, cnbr, rep = cdir[ok], cnbr[ok], rep[ok]
    count = np.bincount(rep, minlength=len(ukey))
    start = np.cumsum(count) - count
    if (count == 0).any():
        p = int(np.flatnonzero(count == 0)[0])
        names = net.fabric.devices["name"]
        why = "; ".join(net.fabric.expectations.unreachable_by_design) or "the links that are down partition the fabric"
        raise InputError(
            f"no path from {names[un[p]]} to {names[ud[p]]} over the links that are up ({why}; "
            "with PXN, collectives keep traffic on its rail)"
        )
    return inv, start, count, cdir, cnbr


def _waterfill(level: np.ndarray, cap: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Place pieces of weight w on candidates with fill levels `level` (load/capacity), least
    loaded first, so that the levels end as even as piece granularity allows. Returns the
    candidate index of each piece."""
    k = len(level)
    o = np.argsort(level, kind="stable")
    lv, cp = level[o], cap[o]
    cumcap = np.cumsum(cp)
    cumlc = np.cumsum(lv * cp)
    total = w.sum()
    # weight needed to raise candidates 0..i to the level of candidate i+1
    need = np.append(lv[1:] * cumcap[:-1] - cumlc[:-1], np.inf)
    i = int(np.searchsorted(need, total, side="left"))
    i = min(i, k - 1)
    target = (total + cumlc[i]) / cumcap[i]
    quota = np.maximum(0.0, target - lv) * cp
    edges = np.cumsum(quota)
    mids = np.cumsum(w) - w / 2
    idx = np.minimum(np.searchsorted(edges, mids, side="left"), k - 1)
    return o[idx]


def spray_bundles(net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(members, representatives, capacities of the representatives) of parallel-link bundles."""
    rep = net.bundle_rep
    members = np.flatnonzero(rep != np.arange(len(rep)))
    cap = net.cap.copy()
    np.minimum.at(cap, rep[members], net.cap[members])
    return members, rep[members], cap


def route(net: Network, routing: Routing, tr: Transfers) -> Routed:
    T = len(tr)
    if T == 0:
        z = np.zeros(0, dtype=np.int64)
        return Routed(z, z, np.zeros(0), np.zeros(0), np.zeros(0))
    P = net.planes
    # ---- planes: a transfer splits evenly over the NIC's planes
    t = np.repeat(np.arange(T), P)
    plane = np.tile(np.arange(P), T)
    w = tr.w[t] / P
    ss, sr, ds, dr = tr.src_srv[t], tr.src_rail[t], tr.dst_srv[t], tr.dst_rail[t]
    src_link = net.nic_link[ss, sr, plane]
    dst_link = net.nic_link[ds, dr, plane]
    for links, srv, rail in ((src_link, ss, sr), (dst_link, ds, dr)):
        bad = (links < 0) | ~net.link_up[np.maximum(links, 0)]
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            port = f"nic{rail[j] + 1}" + (f"p{plane[j] + 1}" if P > 1 else "")
            raise InputError(
                f"srv-{srv[j] + 1}:{port} is not cabled or is down, and this job needs it "
                "(NCCL would not start; leave the server out of the job)"
            )
    up_dir, down_dir = 2 * src_link, 2 * dst_link + 1
    loss = net.link_loss
    lat0 = net.dir_latency_s[up_dir] + net.dir_latency_s[down_dir]
    keep0 = np.log1p(-loss[src_link]) + np.log1p(-loss[dst_link])
    ent_t = [t, t]
    ent_r = [up_dir, down_dir]
    ent_w = [w, w]

    # ---- pieces: QPs (ECMP, adaptive), flowlets (adaptive)
    mode = routing.mode
    q = routing.qps if mode != "spray" else 1
    f = routing.flowlets if mode == "adaptive" else 1
    n_sub = len(t)
    # QP numbers: each source NIC numbers its connections in order, from a base that depends on the seed
    nic_id = (ss * net.rails + sr) * P + plane
    o = np.argsort(nic_id, kind="stable")
    first = np.searchsorted(nic_id[o], nic_id[o], side="left")
    conn_rank = np.empty(n_sub, dtype=np.int64)
    conn_rank[o] = np.arange(n_sub) - first
    run_salt = np.uint64((routing.seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    base = mix64(run_salt ^ nic_id.astype(np.uint64)) & np.uint64(0xFFFFFF)
    sub = np.repeat(np.arange(n_sub), q * f)
    qp = np.tile(np.repeat(np.arange(q), f), n_sub)
    qpn = (base[sub] + (conn_rank[sub] * q + qp).astype(np.uint64)) & np.uint64(0xFFFFFF)
    sport = np.uint64(0xC000) | (mix64(qpn) & np.uint64(0x3FFF))
    src_leaf, dst_leaf = net.nic_leaf[ss, sr, plane], net.nic_leaf[ds, dr, plane]
    # the hash of the 5-tuple fields the switches use (everything but the per-switch salt)
    fields = hash_fields()
    src_ip, dst_ip = net.nic_ip[ss, sr, plane][sub], net.nic_ip[ds, dr, plane][sub]
    flow_h = np.zeros(len(sub), dtype=np.uint64)
    for name, val in (
        ("SRC_IP", src_ip),
        ("DST_IP", dst_ip),
        ("IP_PROTOCOL", np.full(len(sub), UDP, np.uint64)),
        ("L4_SRC_PORT", sport),
        ("L4_DST_PORT", np.full(len(sub), ecmp_hash().roce_udp_dst_port, np.uint64)),
    ):
        if name in fields:
            flow_h = mix64(flow_h ^ val.astype(np.uint64))
    pcs = _Pieces(t[sub], src_leaf[sub], dst_leaf[sub], w[sub] / (q * f), flow_h, lat0[sub], keep0[sub])
    if mode == "adaptive":
        pcs = pcs.take(np.random.default_rng(routing.seed).permutation(len(sub)))

    done: list[_Pieces] = []
    load = np.zeros(net.n_res)
    seed_all = np.uint64(routing.seed & 0xFFFFFFFF)
    for _step in range(16):
        arrived = pcs.node == pcs.dst
        if arrived.any():
            done.append(pcs.take(arrived))
            pcs = pcs.take(~arrived)
        if not len(pcs.t):
            break
        inv, start, count, cdir, cnbr = _candidates(net, pcs.node, pcs.dst)
        if mode == "ecmp":
            sw = pcs.node.astype(np.uint64)
            with np.errstate(over="ignore"):
                salt = (
                    mix64(seed_all ^ (sw * np.uint64(0x9E3779B97F4A7C15)))
                    if routing.per_switch_seed
                    else mix64(np.full(len(sw), seed_all))
                )
            h = mix64(pcs.flow_h ^ salt)
            k = (h % count[inv].astype(np.uint64)).astype(np.int64)
            c = start[inv] + k
        elif mode == "spray":
            # every member gets w / count; parallel links to one neighbour carry identical loads, so
            # they travel as one bundle entry on its representative (engine.run copies the load back)
            ustart, ucount, udir, unbr, umult = _bundles(net, start, count, cdir, cnbr)
            per_member = pcs.w / count[inv]
            k = ucount[inv]
            rep = np.repeat(np.arange(len(pcs.t)), k)
            firstc = np.repeat(np.cumsum(k) - k, k)
            c = ustart[inv][rep] + (np.arange(len(rep)) - firstc)
            pcs = pcs.take(rep)
            ent_t.append(pcs.t)
            ent_r.append(udir[c])
            ent_w.append(per_member[rep])
            pcs.w = per_member[rep] * umult[c]
            pcs.node = unbr[c]
            pcs.lat = pcs.lat + net.dir_latency_s[udir[c]]
            pcs.logkeep = pcs.logkeep + np.log1p(-loss[udir[c] // 2])
            pcs = _merge(pcs, net.n_dev)
            continue
        else:
            c = _adaptive_choice(net, load, inv, start, count, cdir, pcs.w)
        d = cdir[c]
        ent_t.append(pcs.t)
        ent_r.append(d)
        ent_w.append(pcs.w)
        pcs.node = cnbr[c]
        pcs.lat = pcs.lat + net.dir_latency_s[d]
        pcs.logkeep = pcs.logkeep + np.log1p(-loss[d // 2])
    else:
        raise InputError("routing did not converge in 16 hops (a loop in the fabric?)")
    fin = _Pieces.concat(done)
    t_all = np.concatenate(ent_t)
    res_all = np.concatenate(ent_r)
    w_all = np.concatenate(ent_w)
    lat = _group_max(fin.t, fin.lat, T)
    wsum = np.bincount(fin.t, weights=fin.w, minlength=T)
    keep = np.bincount(fin.t, weights=fin.w * fin.logkeep, minlength=T) / np.maximum(wsum, 1e-300)
    return Routed(t_all, res_all, w_all, lat, -np.expm1(keep))


def _bundles(net: Network, start, count, cdir, cnbr):
    """Per (node, destination) pair, its candidates grouped by neighbour: start and count per pair
    into (representative link direction, neighbour, parallel links)."""
    npairs = len(start)
    pair = np.repeat(np.arange(npairs), count)
    rep = net.bundle_rep[cdir]
    key, inv = np.unique(pair * (2 * net.n_links) + rep, return_inverse=True)
    mult = np.bincount(inv, minlength=len(key))
    first = np.zeros(len(key), dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    upair = key // (2 * net.n_links)
    ucount = np.bincount(upair, minlength=npairs)
    ustart = np.cumsum(ucount) - ucount
    return ustart, ucount, key % (2 * net.n_links), cnbr[first], mult


def _merge(p: _Pieces, n_dev: int) -> _Pieces:
    """Sprayed pieces of one transfer that reach the same switch travel on as one."""
    key = p.t * n_dev + p.node
    uk, inv = np.unique(key, return_inverse=True)
    n = len(uk)
    w = np.bincount(inv, weights=p.w, minlength=n)
    logkeep = np.bincount(inv, weights=p.w * p.logkeep, minlength=n) / w
    lat = np.zeros(n)
    np.maximum.at(lat, inv, p.lat)
    firsts = np.zeros(n, dtype=np.int64)
    firsts[inv[::-1]] = np.arange(len(inv))[::-1]
    return _Pieces(p.t[firsts], p.node[firsts], p.dst[firsts], w, p.flow_h[firsts], lat, logkeep)


def _adaptive_choice(net, load, inv, start, count, cdir, w) -> np.ndarray:
    """Least-loaded next hop per flowlet, water-filling flowlets that share a candidate set."""
    npairs = len(start)
    by_pair = np.argsort(inv, kind="stable")
    ptr = np.searchsorted(inv[by_pair], np.arange(npairs + 1))
    groups: dict[bytes, list[int]] = {}
    for p in range(npairs):
        groups.setdefault(cdir[start[p] : start[p] + count[p]].tobytes(), []).append(p)
    choice = np.empty(len(inv), dtype=np.int64)
    cap = net.cap
    for pairs in groups.values():
        p0 = pairs[0]
        cand = np.arange(start[p0], start[p0] + count[p0])
        # flowlets arrive interleaved in time: place them in (seeded, shuffled) piece order, not
        # destination by destination
        members = np.sort(np.concatenate([by_pair[ptr[p] : ptr[p + 1]] for p in pairs]))
        cc = np.maximum(cap[cdir[cand]], 1e-300)
        pick = _waterfill(load[cdir[cand]] / cc, cc, w[members])
        # the same candidate set sits at a different offset in each pair's slice
        choice[members] = start[inv[members]] + pick
        np.add.at(load, cdir[cand[pick]], w[members])  # later groups see these flowlets
    return choice
