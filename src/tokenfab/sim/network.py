"""The planned fabric as the simulator sees it: resources with capacities, and how to reach them.

Resources are the columns of the flow x resource incidence matrix:

    0 .. 2L-1          every fabric link in each direction (links are full duplex): 2*i carries
                       a -> b of link row i, 2*i+1 carries b -> a. Parallel links stay separate.
    2L .. 2L+2G-1      every GPU's NVLink port into its server's NVSwitch domain: 2L + 2*g is GPU g
                       sending, 2L + 2*g + 1 is GPU g receiving (g = server * gpus_per_server + local).
                       With a rack-scale domain (NVL72) the NVSwitch domain is the rack's 72 GPUs.

Capacity of a resource, in bytes/s:

    cap = speed_gbps * 1e9 / 8 * efficiency * degradation             (fabric links)
    cap = nvlink_gbytes_per_s_per_direction * 1e9 * nvlink_efficiency (NVLink, from the GPU catalog)

Each interconnect has its own protocol efficiency (catalog/data/protocols.yaml, with sources):
`efficiency` for the NICs and fabric links (0.95: a large ring all-reduce on 8 x 400G NICs gets
8 x 50 GB/s x 0.95 = 380 GB/s busbw, i.e. 47.5 GB/s per NIC, inside the 46-49 GB/s measured on
ConnectX-7 clusters), `nvlink_efficiency` for NVLink (0.822: NCCL's ring reaches ~370 of H100's
450 GB/s per direction in nccl-tests), and `nvls_efficiency` for NVLink SHARP all-reduce, where the
NVSwitch reduces (0.611: ~480 GB/s busbw, ~275 GB/s algbw on 8 H100). With all of them 1 the
simulator reproduces the textbook bounds exactly. A link that is down has capacity 0
and is never a next hop: routing recomputes shortest paths over what remains.

Servers are `srv-N`; NIC port `nicK` (or `nicKpP` with planes) is rail K. GPU k of a server uses NIC
k when there are as many NICs as GPUs; otherwise GPUs map to NICs evenly (GPU k -> NIC k*R//G) and
NIC r's "owner" (the GPU whose memory its traffic reaches through PCIe) is GPU r*G//R.

Latency of crossing a link direction = cable propagation (5 ns/m) + the forwarding latency of the
switch it enters (catalog `latency_ns`; 600 ns when the catalog has none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import cast

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from tokenfab.design.model import Fabric, ip_int
from tokenfab.errors import InputError

PROPAGATION_S_PER_M = 5e-9  # light in fibre/copper, ~2/3 c
DEFAULT_SWITCH_LATENCY_S = 600e-9
UNREACHABLE = np.int16(10_000)


@dataclass(frozen=True)
class SimParams:
    """Knobs of the model. Every default is documented where it is used."""

    efficiency: float | None = None  # NIC/fabric protocol efficiency (None: catalog/data/protocols.yaml, 0.95)
    nvlink_efficiency: float | None = None  # NVLink protocol efficiency (None: protocols.yaml, 0.822)
    nvls_efficiency: float | None = None  # NVLink SHARP all-reduce (None: protocols.yaml, 0.611)
    nvls: bool = True  # use NVLink SHARP all-reduce inside a server where the GPU (catalog `nvls`) has it
    channels_per_nic: int = 1  # NCCL channels per NIC (rings/trees); each has its own connections
    base_latency_s: float = 4.0e-6  # per collective: launch + protocol (NCCL's baseLat is 3.6-4.4 us for LL)
    nvlink_step_s: float = 0.5e-6  # per intra-server step (NCCL's hwLat for NVLink LL: 0.47 us)
    net_step_s: float = 2.0e-6  # per network step, NIC + software, before the fabric's own latency
    mtu_bytes: int = 4096  # RoCE payload per packet
    message_bytes: int = 512 * 1024  # bytes per RDMA message (an NCCL step of a 4 MiB buffer / 8 slots)
    pxn: bool = True  # PXN: reach a remote GPU through the local GPU on its rail (NVLink, then the rail)
    nvlink_gbytes_per_s: float | None = None  # override the GPU catalog's per-direction NVLink bandwidth

    def __post_init__(self):
        from tokenfab.catalog.protocols import load_protocols

        proto = load_protocols()
        for name, default in (("efficiency", proto.nic), ("nvlink_efficiency", proto.nvlink), ("nvls_efficiency", proto.nvls)):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, default.efficiency)
            elif not 0 < value <= 1:
                raise InputError(f"must be in (0, 1], got {value}", name)
        if self.channels_per_nic < 1:
            raise InputError(f"must be >= 1, got {self.channels_per_nic}", "channels_per_nic")


def _nic_port(port: str) -> tuple[int, int]:
    m = re.fullmatch(r"nic(\d+)(?:p(\d+))?", port)
    if not m:
        raise InputError(f"server port {port!r} is not a NIC port (nicK or nicKpP)")
    return int(m.group(1)) - 1, int(m.group(2) or 1) - 1


class Network:
    """Resources, capacities and shortest-path structure of one fabric under one set of faults."""

    def __init__(self, fabric: Fabric, params: SimParams | None = None, faults=None):
        from tokenfab.catalog import load_catalog
        from tokenfab.sim.faults import Faults

        self.fabric = fabric
        self.params = params or SimParams()
        self.faults = faults or Faults()
        cat = load_catalog(fabric.catalog_layers)  # the catalog the fabric was planned with
        c = fabric.intent.cluster
        D, L = fabric.devices, fabric.links
        self.n_dev = len(D)
        self.n_links = len(L)
        self.role = D["role"].astype(str)
        names = D["name"].tolist()

        # ---- servers, NICs, GPUs
        srv_rows = np.flatnonzero(self.role == "server")
        srv_num = np.array([int(names[r].removeprefix("srv-")) for r in srv_rows], dtype=np.int64)
        order = np.argsort(srv_num, kind="stable")
        self.server_dev = srv_rows[order]
        self.n_servers = len(self.server_dev)
        # A scale-up domain larger than a server (GB200 NVL72: 18 trays of 4 GPUs) is one NVLink
        # island: the simulator's "server" is the domain, with every tray's NICs as its rails
        # (tray t's NIC k is rail t * R + k). GPU ids do not change: tray * 4 + k = domain * 72 + t * 4 + k.
        self.trays_per_domain = ds = int(fabric.design.get("scaleup_domain_servers") or 1)
        self.n_trays, self.gpus_per_tray = self.n_servers, c.gpus_per_server
        if self.n_trays % ds:
            raise InputError(f"{self.n_trays} servers are not whole scale-up domains of {ds}")
        self.n_servers //= ds
        self.server_of_dev = np.full(self.n_dev, -1, dtype=np.int64)
        self.server_of_dev[self.server_dev] = np.arange(self.n_trays) // ds
        self.gpus_per_server = c.gpus_per_server * ds
        self.rails = fabric.intent.nics_per_server * ds
        self.planes = cast(int, c.planes)  # a fabric's intent is resolved: design() wrote the plane count in
        self.n_gpus = self.n_servers * self.gpus_per_server
        g, R = self.gpus_per_server, self.rails
        self.gpu_rail = np.arange(g) * R // g  # NIC a GPU uses
        self.rail_owner = np.arange(R) * g // R  # GPU a NIC's traffic lands on
        tray_of_dev = np.full(self.n_dev, -1, dtype=np.int64)
        tray_of_dev[self.server_dev] = np.arange(self.n_trays)
        R_tray = fabric.intent.nics_per_server

        kind = L["kind"].astype(str)
        nic_rows = np.flatnonzero(kind == "nic")
        self.nic_link = np.full((self.n_servers, R, self.planes), -1, dtype=np.int64)
        self.nic_leaf = np.full((self.n_servers, R, self.planes), -1, dtype=np.int64)
        self.nic_ip = np.zeros((self.n_servers, R, self.planes), dtype=np.uint64)
        a, b = L["a"], L["b"]
        ports, a_ip = L["a_port"], L["a_ip"]
        for row in nic_rows.tolist():
            s = self.server_of_dev[a[row]]
            rail, plane = _nic_port(ports[row])
            if s < 0 or rail >= R_tray or plane >= self.planes:
                continue
            rail += (tray_of_dev[a[row]] % ds) * R_tray
            self.nic_link[s, rail, plane] = row
            self.nic_leaf[s, rail, plane] = b[row]
            self.nic_ip[s, rail, plane] = ip_int(a_ip[row]) or (s << 8 | rail << 3 | plane)

        # ---- faults: which links are up, how fast, how lossy
        self.n_res = 2 * self.n_links + 2 * self.n_gpus
        self.nvl_base = 2 * self.n_links
        resolved = self.faults.resolve(fabric)
        self.link_up = ~resolved.down
        self.degrade = resolved.degrade
        self.link_loss = resolved.loss  # per link row (same both directions)

        speed_bytes_per_s = L["speed_gbps"].astype(np.float64) * 1e9 / 8
        gpu = cat.gpus[c.gpu_model]
        nvl_bytes_per_s = (self.params.nvlink_gbytes_per_s or gpu.nvlink_gbytes_per_s_per_direction) * 1e9
        self.nominal = np.concatenate([np.repeat(speed_bytes_per_s, 2), np.full(2 * self.n_gpus, nvl_bytes_per_s)])
        link_factor = np.where(self.link_up, self.degrade, 0.0)
        self.cap = self.nominal * self.params.efficiency
        self.cap[self.nvl_base :] = self.nominal[self.nvl_base :] * self.params.nvlink_efficiency
        # NVLink SHARP: the GPU's own flag (a catalog field; user GPUs without it have none)
        self.nvls = bool(self.params.nvls and getattr(gpu, "nvls", False))
        self.cap[: 2 * self.n_links] *= np.repeat(link_factor, 2)

        # ---- latency of entering each link direction's far end
        dev_lat = np.zeros(self.n_dev)
        models = D["model"].tolist()
        for i in np.flatnonzero(self.role != "server").tolist():
            sw = cat.switches.get(models[i])
            dev_lat[i] = (sw.latency_ns * 1e-9) if sw is not None and sw.latency_ns else DEFAULT_SWITCH_LATENCY_S
        prop = L["length_m"].astype(np.float64) * PROPAGATION_S_PER_M
        self.dir_latency_s = np.empty(2 * self.n_links)
        self.dir_latency_s[0::2] = prop + dev_lat[b]
        self.dir_latency_s[1::2] = prop + dev_lat[a]
        self.dir_latency_s += self.faults.extra_latency_s

        # ---- switch-to-switch adjacency over link directions that are up
        sw_rows = np.flatnonzero((kind != "nic") & self.link_up)
        src = np.concatenate([a[sw_rows], b[sw_rows]])
        dst = np.concatenate([b[sw_rows], a[sw_rows]])
        dirs = np.concatenate([2 * sw_rows, 2 * sw_rows + 1])
        o = np.lexsort((dirs, src))
        self.adj_dir, self.adj_nbr = dirs[o], dst[o]
        self.adj_ptr = np.searchsorted(src[o], np.arange(self.n_dev + 1))
        # parallel links (same two switches, same direction): the first is the bundle's representative
        self.bundle_rep = np.arange(2 * self.n_links)
        key = src * self.n_dev + dst
        ob = np.lexsort((dirs, key))
        first = np.searchsorted(key[ob], key[ob], side="left")
        self.bundle_rep[dirs[ob]] = dirs[ob][first]
        self._graph = sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(self.n_dev, self.n_dev))
        self._col_of = np.full(self.n_dev, -1, dtype=np.int64)
        self._dist = np.zeros((self.n_dev, 0), dtype=np.int16)

    def server_label(self, s: int) -> str:
        """Name of simulator server s: srv-N, or its trays srv-A..srv-B for a rack-scale domain."""
        ds = self.trays_per_domain
        return f"srv-{s + 1}" if ds == 1 else f"srv-{s * ds + 1}..srv-{(s + 1) * ds}"

    # -- resources ----------------------------------------------------------------------------
    def nvl_out(self, gpu: np.ndarray) -> np.ndarray:
        return self.nvl_base + 2 * np.asarray(gpu)

    def nvl_in(self, gpu: np.ndarray) -> np.ndarray:
        return self.nvl_base + 2 * np.asarray(gpu) + 1

    def nic_up_dir(self, server, rail, plane) -> np.ndarray:
        """Link direction server -> leaf of a NIC port (NIC links have the server as end a)."""
        return 2 * self.nic_link[server, rail, plane]

    def resource_name(self, r: int) -> str:
        if r >= self.nvl_base:
            gpu, d = divmod(r - self.nvl_base, 2)
            s, k = divmod(gpu, self.gpus_per_tray)
            return f"srv-{s + 1}:gpu{k} NVLink {'out' if d == 0 else 'in'}"
        row, d = divmod(r, 2)
        ln = self.fabric.link(row)
        return f"{ln.a}:{ln.a_port} -> {ln.b}" if d == 0 else f"{ln.b}:{ln.b_port} -> {ln.a}"

    @cached_property
    def resource_tier(self) -> np.ndarray:
        """'nic-up', 'nic-down', 'leaf-spine-up', ..., 'nvlink' per resource (for summaries)."""
        kind = self.fabric.links["kind"].astype(str)
        up = np.char.add(kind.astype(str), "-up").astype(object)
        down = np.char.add(kind.astype(str), "-down").astype(object)
        tiers = np.empty(self.n_res, dtype=object)
        tiers[0 : 2 * self.n_links : 2] = up
        tiers[1 : 2 * self.n_links : 2] = down
        tiers[self.nvl_base :] = "nvlink"
        return tiers

    # -- shortest paths -----------------------------------------------------------------------
    def dist_cols(self, leaves: np.ndarray) -> np.ndarray:
        """Columns of the hop-distance matrix for these destination leaves (computed on demand)."""
        leaves = np.asarray(leaves, dtype=np.int64)
        uniq = np.unique(leaves)
        new = uniq[self._col_of[uniq] < 0]
        if len(new):
            # distances *to* each leaf: BFS on the reversed (here symmetric) graph from the leaf
            d = shortest_path(self._graph, directed=True, unweighted=True, indices=new).T  # (n_dev, k)
            d = np.where(np.isfinite(d), d, UNREACHABLE).astype(np.int16)
            self._col_of[new] = self._dist.shape[1] + np.arange(len(new))
            self._dist = np.hstack([self._dist, d])
        return self._col_of[leaves]

    @property
    def dist(self) -> np.ndarray:
        return self._dist
