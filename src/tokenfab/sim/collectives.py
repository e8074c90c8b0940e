"""NCCL collectives as flows: which GPU sends how many bytes to which, over NVLink or which rail.

Sizes follow nccl-tests (`-b/-e/-f`, K/M/G = 2^10/2^20/2^30, `float` elements by default) and its
meaning of "size" per collective: the printed size is max(send, receive) buffer bytes, counts are
rounded as nccl-tests rounds them, algbw = S / t and busbw = algbw * factor with
(doc/PERFORMANCE.md of nccl-tests; n ranks):

    all_reduce 2(n-1)/n      all_gather, reduce_scatter, all_to_all (n-1)/n
    broadcast, reduce, send_recv 1
    S = count * type_bytes for all_reduce/broadcast/reduce/send_recv, and count * n * type_bytes for
    all_gather/reduce_scatter/all_to_all (count = elements per rank).

Channels follow the rails. A multi-server group uses the same local GPUs on every server; each NIC
those GPUs use (rail r) carries `channels_per_nic` channels. In a channel on rail r, every server is
entered at the GPU that owns NIC r, the bytes walk through the server's other GPUs over NVLink, and
leave through NIC r again: the last GPU hands them over NVLink to the owner (PXN), so GPU k of each
server talks to GPU k of the next over rail k. Hence:

ring (all_reduce, all_gather, reduce_scatter): one coupled flow per channel; each hop carries
    2(n-1)/n * S / C (all_reduce) or (n-1)/n * S / C bytes. Busbw bounds: min(NVLink one
    direction, NICs x NIC rate), as NCCL measures on rail-optimized clusters.
double binary tree (all_reduce): two complementary binary trees over the servers (NCCL's shape:
    odd positions are leaves; the second tree mirrors the first, or shifts it by one when the count
    is odd, so a server is an inner node in at most one), an NVLink chain inside each server; reduce up and broadcast down run
    pipelined, so every tree and chain edge carries S / (2C) bytes in each direction.
NVLS (all_reduce inside one server, where the GPU has NVLink SHARP): every GPU pushes its buffer
    into the NVSwitch, which reduces it, and reads the reduced buffer back (multimem reduce, then
    multicast): S bytes out of and S into every GPU's NVLink port, at the NVLS protocol efficiency
    (algbw = NVLink x nvls_efficiency; on H100 450 x 0.611 = 275 GB/s, busbw 2(n-1)/n x 275 = 480).
broadcast / reduce: a pipelined chain from (to) rank 0 through every server, S / C bytes per hop.
all_to_all: every rank sends S/n bytes to every other rank. With PXN (default) the bytes for GPU j
    of another server first go over NVLink to the local GPU on j's rail, which sends them to j over
    that rail in one connection carrying the data of all local GPUs; without PXN each GPU sends from
    its own NIC and cross-rail traffic crosses the spines.
send_recv: rank k sends S bytes to rank k+1 (mod n), as nccl-tests' sendrecv does, or given pairs.

Latency (the alpha term), after NCCL's own tuning model (src/graph/tuning.cc): a base per
collective plus a latency per step, intra-server steps at `nvlink_step_s`, network steps at
`net_step_s` + the slowest routed path (switch forwarding + propagation) + jitter:

    ring all_reduce: 2(n-1) steps of which 2(N-1) cross the network (N servers)
    all_gather / reduce_scatter: n-1 steps, N-1 of them network
    broadcast / reduce: n-N intra + N-1 network
    tree all_reduce: 2 * ((m-1) intra + depth network), m GPUs per server
    NVLS all_reduce: 2 intra (reduce in the switch, multicast back)
    all_to_all and send_recv: one network step (+ one NVLink step with PXN)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokenfab.errors import InputError
from tokenfab.sim.network import Network
from tokenfab.sim.routing import Transfers


@dataclass
class FlowPlan:
    """A collective as coupled flows, per byte of S (the bus bytes), plus its latency structure."""

    collective: str
    algorithm: str
    n_ranks: int
    n_servers: int
    group_bytes: np.ndarray  # bytes each group delivers per byte of S
    group_label: list[str]
    net: Transfers
    nvl_grp: np.ndarray
    nvl_src: np.ndarray
    nvl_dst: np.ndarray
    nvl_w: np.ndarray
    intra_steps: int
    inter_steps: int
    net_hops_per_step: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return len(self.group_bytes)


@dataclass
class Layout:
    """Who is in the job: ranks in order, their servers, and the local GPUs used on each."""

    gpus: np.ndarray  # global GPU ids in rank order
    servers: np.ndarray  # server indices in order of first rank
    local: np.ndarray  # local GPU indices used on every server (sorted), when uniform
    uniform: bool

    @property
    def n(self) -> int:
        return len(self.gpus)


def layout(net: Network, gpus: np.ndarray) -> Layout:
    gpus = np.asarray(gpus, dtype=np.int64)
    g = net.gpus_per_server
    srv = gpus // g
    _, first = np.unique(srv, return_index=True)
    servers = srv[np.sort(first)]
    locals_ = [np.sort(gpus[srv == s] % g) for s in servers]
    uniform = all(len(x) == len(locals_[0]) and (x == locals_[0]).all() for x in locals_)
    return Layout(gpus, servers, locals_[0], uniform)


def _need_uniform(lay: Layout, collective: str) -> None:
    if not lay.uniform:
        raise InputError(
            f"{collective} across servers needs the same local GPUs on every server of the job "
            "(as NCCL's rail-aligned channels do); give whole servers or matching GPU sets",
            "gpus",
        )


def _channels(net: Network, lay: Layout) -> list[tuple[int, int]]:
    """(rail, entry local GPU) per channel: the NICs the job's GPUs use, channels_per_nic each."""
    out = []
    rails = net.gpu_rail[lay.local]
    for r in np.unique(rails).tolist():
        entry = int(lay.local[np.flatnonzero(rails == r)[0]])
        out += [(r, entry)] * net.params.channels_per_nic
    return out


def _rotated(local: np.ndarray, first: int) -> np.ndarray:
    i = int(np.flatnonzero(local == first)[0])
    return np.roll(local, -i)


class _Builder:
    def __init__(self, net: Network):
        self.net = net
        self.g = net.gpus_per_server
        self.groups_bytes: list[float] = []
        self.labels: list[str] = []
        self.tr: list[Transfers] = []
        self.nvl: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def group(self, bytes_per_S: float, label: str) -> int:
        self.groups_bytes.append(bytes_per_S)
        self.labels.append(label)
        return len(self.groups_bytes) - 1

    def groups(self, bytes_per_S: np.ndarray, labels: list[str]) -> np.ndarray:
        first = len(self.groups_bytes)
        self.groups_bytes.extend(np.asarray(bytes_per_S, dtype=np.float64).tolist())
        self.labels.extend(labels)
        return np.arange(first, len(self.groups_bytes))

    def net_hops(self, grp, src_srv, src_rail, dst_srv, dst_rail, w=1.0) -> None:
        n = len(np.atleast_1d(src_srv))

        def b(x):
            return np.broadcast_to(np.asarray(x, dtype=np.int64), (n,)).copy()

        self.tr.append(
            Transfers(
                b(grp),
                np.broadcast_to(np.asarray(w, dtype=np.float64), (n,)).copy(),
                b(src_srv),
                b(src_rail),
                b(dst_srv),
                b(dst_rail),
            )
        )

    def nvlink(self, grp, src_gpu, dst_gpu, w=1.0) -> None:
        src_gpu, dst_gpu = np.atleast_1d(src_gpu).astype(np.int64), np.atleast_1d(dst_gpu).astype(np.int64)
        n = len(src_gpu)
        self.nvl.append(
            (
                np.broadcast_to(np.asarray(grp, dtype=np.int64), (n,)).copy(),
                src_gpu,
                dst_gpu,
                np.broadcast_to(np.asarray(w, dtype=np.float64), (n,)).copy(),
            )
        )

    def finish(self, collective, algorithm, lay: Layout, intra, inter, hops, **meta) -> FlowPlan:
        nv = (
            [np.concatenate(x) if self.nvl else np.zeros(0) for x in zip(*self.nvl)]
            if self.nvl
            else [np.zeros(0, np.int64)] * 3 + [np.zeros(0)]
        )
        return FlowPlan(
            collective,
            algorithm,
            lay.n,
            len(lay.servers),
            np.array(self.groups_bytes),
            self.labels,
            Transfers.concat(self.tr),
            nv[0].astype(np.int64),
            nv[1].astype(np.int64),
            nv[2].astype(np.int64),
            nv[3].astype(np.float64),
            intra,
            inter,
            hops,
            meta,
        )


def build(
    net: Network, collective: str, gpus: np.ndarray, algorithm: str = "ring", pairs: np.ndarray | list | None = None
) -> FlowPlan:
    """The flows of one collective over the given GPUs (rank order), per byte of S."""
    lay = layout(net, gpus)
    if lay.n < 2:
        raise InputError(f"{collective} needs at least 2 GPUs, got {lay.n}", "gpus")
    if collective == "all_to_all":
        return _all_to_all(net, lay)
    if collective == "send_recv":
        return _send_recv(net, lay, pairs)
    if collective in ("broadcast", "reduce"):
        return _chain(net, lay, collective)
    if collective == "all_reduce" and algorithm == "tree" and len(lay.servers) > 1:
        return _tree(net, lay)
    if collective == "all_reduce" and algorithm == "nvls":
        return _nvls(net, lay)
    return _ring(net, lay, collective)


def _ring(net: Network, lay: Layout, collective: str) -> FlowPlan:
    b = _Builder(net)
    n, N, g = lay.n, len(lay.servers), net.gpus_per_server
    data = (2 * (n - 1) / n) if collective == "all_reduce" else (n - 1) / n
    if N == 1:
        m = len(lay.local)
        base = lay.servers[0] * g
        for c in range(m):
            chain = np.roll(lay.local, -c)
            grp = b.group(data / m, f"ring {c + 1} (NVLink)")
            b.nvlink(grp, base + chain, base + np.roll(chain, -1))
        return b.finish(collective, "ring", lay, intra=_steps(collective, n), inter=0, hops=0)
    _need_uniform(lay, collective)
    chans = _channels(net, lay)
    C = len(chans)
    nxt = np.roll(lay.servers, -1)
    m = len(lay.local)
    for c, (rail, entry) in enumerate(chans):
        grp = b.group(data / C, f"ring {c + 1} rail {rail + 1}")
        b.net_hops(grp, lay.servers, rail, nxt, rail)
        if m > 1:
            chain = _rotated(lay.local, entry)
            src = (lay.servers[:, None] * g + chain[None, :]).ravel()
            dst = (lay.servers[:, None] * g + np.roll(chain, -1)[None, :]).ravel()  # last -> owner: PXN
            b.nvlink(grp, src, dst)
    steps = _steps(collective, n)
    inter = _steps(collective, N)
    return b.finish(collective, "ring", lay, intra=steps - inter, inter=inter, hops=N * C)


def _nvls(net: Network, lay: Layout) -> FlowPlan:
    if len(lay.servers) > 1:
        raise InputError(
            f"NVLS all-reduce runs inside one NVLink domain; this group spans {len(lay.servers)} servers (use ring or tree)",
            "algorithm",
        )
    if not net.nvls:
        raise InputError(
            f"the {net.fabric.intent.cluster.gpu_model} has no NVLink SHARP (catalog field `nvls`), "
            "or it is switched off (SimParams.nvls); use ring",
            "algorithm",
        )
    b = _Builder(net)
    p = net.params
    grp = b.group(1.0, "NVLS (NVSwitch reduce + multicast)")
    # one byte of S costs nvlink/nvls efficiency bytes of the port's (NVLink-efficient) capacity,
    # so the rate is NVLink line rate x nvls_efficiency
    assert p.nvlink_efficiency is not None and p.nvls_efficiency is not None  # SimParams fills the defaults
    b.nvlink(grp, lay.gpus, lay.gpus, w=p.nvlink_efficiency / p.nvls_efficiency)
    return b.finish("all_reduce", "nvls", lay, intra=2, inter=0, hops=0)


def _steps(collective: str, n: int) -> int:
    return 2 * (n - 1) if collective == "all_reduce" else n - 1


def binary_tree(n: int) -> np.ndarray:
    """Parent of each rank in NCCL's binary tree shape (root: -1). A rank's level is its number of
    trailing zero bits: odd ranks are leaves; rank r with lowest set bit b hangs under r - b + 2b
    (or r - b when that is past the end); rank 0 is the root, above the largest power of two < n."""
    parent = np.full(n, -1, dtype=np.int64)
    for r in range(1, n):
        low = r & -r
        up = (r ^ low) | (low << 1)
        parent[r] = up if up < n else r ^ low
    return parent


def double_binary_tree(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two complementary trees: the second mirrors the first (n even) or shifts it by one (n odd),
    so that the leaves of one are the inner nodes of the other."""
    t1 = binary_tree(n)
    i = np.arange(n)
    if n % 2 == 0:
        src = n - 1 - i
        p = t1[src]
        t2 = np.where(p < 0, -1, n - 1 - p)
    else:
        src = (i - 1) % n
        p = t1[src]
        t2 = np.where(p < 0, -1, (p + 1) % n)
    return t1, t2


def tree_depth(parent: np.ndarray) -> int:
    depth = np.zeros(len(parent), dtype=np.int64)
    for i in range(len(parent)):
        d, j = 0, i
        while parent[j] >= 0:
            j, d = parent[j], d + 1
        depth[i] = d
    return int(depth.max()) if len(depth) else 0


def _tree(net: Network, lay: Layout) -> FlowPlan:
    _need_uniform(lay, "all_reduce")
    b = _Builder(net)
    N, g, m = len(lay.servers), net.gpus_per_server, len(lay.local)
    chans = _channels(net, lay)
    C = len(chans)
    trees = double_binary_tree(N)
    for c, (rail, entry) in enumerate(chans):
        chain = _rotated(lay.local, entry)
        for t, parent in enumerate(trees):
            grp = b.group(1.0 / (2 * C), f"tree {t + 1} channel {c + 1} rail {rail + 1}")
            child = np.flatnonzero(parent >= 0)
            cs, ps = lay.servers[child], lay.servers[parent[child]]
            b.net_hops(grp, np.concatenate([cs, ps]), rail, np.concatenate([ps, cs]), rail)
            if m > 1:
                a = (lay.servers[:, None] * g + chain[None, :-1]).ravel()
                z = (lay.servers[:, None] * g + chain[None, 1:]).ravel()
                b.nvlink(grp, np.concatenate([a, z]), np.concatenate([z, a]))
    depth = max(tree_depth(t) for t in trees)
    return b.finish("all_reduce", "tree", lay, intra=2 * (m - 1), inter=2 * depth, hops=2 * (N - 1) * 2 * C, depth=depth)


def _chain(net: Network, lay: Layout, collective: str) -> FlowPlan:
    """Broadcast from rank 0 (or reduce to it) as a pipelined chain through every GPU."""
    b = _Builder(net)
    N, g = len(lay.servers), net.gpus_per_server
    root = int(lay.gpus[0])
    rev = collective == "reduce"

    def add(grp, src, dst):
        b.nvlink(grp, dst, src) if rev else b.nvlink(grp, src, dst)

    if N == 1:
        others = np.array([x for x in lay.gpus.tolist() if x != root], dtype=np.int64)
        m = len(others)
        for c in range(m):
            chain = np.concatenate([[root], np.roll(others, -c)])
            grp = b.group(1.0 / m, f"chain {c + 1} (NVLink)")
            add(grp, chain[:-1], chain[1:])
        return b.finish(collective, "ring", lay, intra=lay.n - 1, inter=0, hops=0)
    _need_uniform(lay, collective)
    chans = _channels(net, lay)
    C = len(chans)
    m = len(lay.local)
    root_local = root % g
    for c, (rail, entry) in enumerate(chans):
        grp = b.group(1.0 / C, f"chain {c + 1} rail {rail + 1}")
        src_s, dst_s = lay.servers[:-1], lay.servers[1:]
        if rev:
            b.net_hops(grp, dst_s, rail, src_s, rail)
        else:
            b.net_hops(grp, src_s, rail, dst_s, rail)
        if m == 1:
            continue
        # root server: root first, the rail's entry GPU last (it sends on its own NIC)
        rest = [x for x in _rotated(lay.local, entry).tolist() if x != root_local]
        if entry != root_local:
            rest = [x for x in rest if x != entry] + [entry]
        head = lay.servers[0] * g + np.array([root_local] + rest)
        edges_s, edges_d = [head[:-1]], [head[1:]]
        if entry == root_local:  # the last GPU hands the bytes back to the NIC's owner (PXN)
            edges_s.append(head[-1:])
            edges_d.append(head[:1])
        chain = _rotated(lay.local, entry)
        mid = lay.servers[1:, None] * g
        cyc_s = (mid + chain[None, :]).copy()
        cyc_d = (mid + np.roll(chain, -1)[None, :]).copy()
        keep = np.ones(cyc_s.shape, dtype=bool)
        keep[-1, -1] = False  # the last server does not forward
        edges_s.append(cyc_s[keep])
        edges_d.append(cyc_d[keep])
        add(grp, np.concatenate(edges_s), np.concatenate(edges_d))
    return b.finish(collective, "ring", lay, intra=lay.n - N, inter=N - 1, hops=(N - 1) * C)


def _all_to_all(net: Network, lay: Layout) -> FlowPlan:
    b = _Builder(net)
    n, N, g = lay.n, len(lay.servers), net.gpus_per_server
    pxn = net.params.pxn
    if N > 1:
        _need_uniform(lay, "all_to_all")
    m = len(lay.local)
    share = 1.0 / n  # bytes per pair per byte of S
    rails = net.gpu_rail[lay.local]
    # proxy for destination GPU j: the first local GPU on j's rail (with uniform sets: on every server)
    proxy = np.array([int(lay.local[np.flatnonzero(rails == r)[0]]) for r in rails.tolist()])
    # ---- NVLink: direct pairs inside a server, plus PXN feeds towards the proxies
    ii, jj = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    off = ii != jj
    ii, jj = ii[off], jj[off]
    per_pair = np.full(len(ii), share)
    if pxn and N > 1:
        feeds = np.zeros((m, m))
        for j in range(m):
            p = int(np.flatnonzero(lay.local == proxy[j])[0])
            feeds[:, p] += (N - 1) * share
        per_pair = per_pair + feeds[ii, jj]
    if m > 1:
        S = np.repeat(lay.servers, len(ii))
        src = S * g + np.tile(lay.local[ii], N)
        dst = S * g + np.tile(lay.local[jj], N)
        grps = b.groups(
            np.tile(per_pair, N),
            [
                f"srv-{s + 1} gpu{a}->gpu{z} NVLink"
                for s in lay.servers.tolist()
                for a, z in zip(lay.local[ii].tolist(), lay.local[jj].tolist())
            ],
        )
        b.nvlink(grps, src, dst)
    # ---- network
    if N > 1:
        A, Z = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
        off = A != Z
        A, Z = A[off], Z[off]
        if pxn:
            k = np.tile(np.arange(m), len(A))
            sa, sz = np.repeat(lay.servers[A], m), np.repeat(lay.servers[Z], m)
            rail = rails[k]
            grps = b.groups(np.full(len(k), m * share), _labels(sa, sz, rail))
            b.net_hops(grps, sa, rail, sz, rail)
        else:
            kk = np.tile(np.arange(m * m), len(A))
            src_k, dst_k = kk // m, kk % m
            sa, sz = np.repeat(lay.servers[A], m * m), np.repeat(lay.servers[Z], m * m)
            grps = b.groups(np.full(len(kk), share), _labels(sa, sz, rails[dst_k]))
            b.net_hops(grps, sa, rails[src_k], sz, rails[dst_k])
    hops = N * (N - 1) * m if pxn else N * (N - 1) * m * m
    intra = 1 if (m > 1 and (pxn or N == 1)) else 0
    return b.finish("all_to_all", "pxn" if pxn else "direct", lay, intra=intra, inter=int(N > 1), hops=hops)


def _labels(sa, sz, rail) -> list[str]:
    if len(sa) > 4096:  # large all-to-alls: labels on demand would cost more than they tell
        return [""] * len(sa)
    return [f"srv-{a + 1}->srv-{z + 1} rail {r + 1}" for a, z, r in zip(sa.tolist(), sz.tolist(), rail.tolist())]


def _send_recv(net: Network, lay: Layout, pairs: np.ndarray | list | None) -> FlowPlan:
    b = _Builder(net)
    g = net.gpus_per_server
    if pairs is None:
        src = lay.gpus
        dst = np.roll(lay.gpus, -1)
        if lay.n == 2:
            src, dst = lay.gpus, lay.gpus[::-1]
    else:
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        src, dst = pairs[:, 0], pairs[:, 1]
    in_job = {int(x) for x in lay.gpus.tolist()}
    any_net = False
    for a, z in zip(src.tolist(), dst.tolist()):
        if a == z:
            raise InputError(f"send_recv pair {a}->{z}: a GPU cannot send to itself", "pairs")
        sa, sz = a // g, z // g
        grp = b.group(1.0, f"gpu {a} -> gpu {z}")
        if sa == sz:
            b.nvlink(grp, a, z)
            continue
        any_net = True
        rail = int(net.gpu_rail[z % g])
        src_rail = int(net.gpu_rail[a % g])
        if net.params.pxn and src_rail != rail:
            proxies = [sa * g + k for k in range(g) if net.gpu_rail[k] == rail and sa * g + k in in_job]
            if proxies:
                b.nvlink(grp, a, proxies[0])
                src_rail = rail
        b.net_hops(grp, sa, src_rail, sz, rail)
    return b.finish("send_recv", "p2p", lay, intra=int(not any_net or net.params.pxn), inter=int(any_net), hops=len(src))
