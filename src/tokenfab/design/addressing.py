"""Addresses, ASNs and MACs: deterministic functions of each item's stable index.

Pools are split into fixed blocks per role so that growing the fabric appends addresses and never
moves existing ones:
- loopbacks: leaves in the first half, spines in the third quarter, cores in the last quarter;
- management: the first 16 addresses are reserved (gateway .1, ZTP/DHCP services), then a quarter
  of the pool each for leaves, spines and cores;
- point-to-point /31s: leaf-spine links in the first half, spine-core links in the second half;
  the upper device takes the even address, the lower one the odd (SONiC's T0/T1 convention);
- server subnets: one per leaf (VLAN with the gateway .1 on the leaf), sized for the leaf's
  downlinks; or, with server_links: p31, one /31 per NIC.
ASNs follow RFC 7938: unique per leaf, one per spine group (or unique), one for the core.
"""

from __future__ import annotations

import ipaddress
import math

import numpy as np

from tokenfab.design.sizing import Sizing
from tokenfab.design.topology import Skeleton
from tokenfab.errors import InfeasibleError
from tokenfab.intent import Intent

ASN16 = {"core": 64512, "spine": 64513, "leaf": 64800, "last": 65534}
ASN32 = {"core": 4_200_000_000, "spine": 4_200_000_001, "leaf": 4_200_100_000, "last": 4_294_967_294}


def _pool(text: str) -> tuple[int, int]:
    net = ipaddress.IPv4Network(text)
    return int(net.network_address), net.num_addresses


def _need(field: str, pool: str, have: int, need: int, what: str, pool_need: int | None = None) -> None:
    if need > have:
        size = f" (a /{prefix_for(pool_need)} or larger)" if pool_need else ""
        raise InfeasibleError(f"pool {pool} has {have} addresses for {what}; the design needs {need}{size}", field)


def prefix_for(addresses: int) -> int:
    """Longest prefix whose block holds `addresses`."""
    return 32 - max(0, math.ceil(math.log2(max(addresses, 1))))


def needs(intent: Intent, sz: Sizing) -> dict[str, int]:
    """Addresses each pool must hold for this design at its planned maximum size (see assign())."""
    mx = maxima(sz)
    per = sz.subnets_per_leaf
    d = sz.servers_per_su
    slots = max(mx["leaf"] * sz.leaf.up_ports, mx["spine"] * (sz.spine.up_ports if sz.tiers == 3 and sz.spine else 0))
    servers = (
        (mx["leaf"] * per) << math.ceil(math.log2(d + 3))
        if intent.addressing.server_links == "vlan"
        else 2 * mx["leaf"] * per * d
    )
    return {
        "loopbacks": max(2 * (mx["leaf"] + 1), 4 * mx["spine"], 4 * (mx["core"] + 1)),
        "management": 3 * max(mx["leaf"], mx["spine"], mx["core"]) + 16,
        "p2p": 4 * slots if slots else 0,
        "servers": servers,
    }


# Where pools the intent leaves unset may move when their defaults are too small (RFC 1918, then shared space).
_SPACES = ("10.0.0.0/8", "172.16.0.0/12", "100.64.0.0/10")


def resolve_pools(intent: Intent, sz: Sizing) -> tuple[Intent, list[str]]:
    """The intent with every pool it does not set resized to fit the design (defaults kept when they fit).
    A pool the intent sets is left alone: assign() reports it with the size it needs."""
    a = intent.addressing
    need = needs(intent, sz)
    small = [
        k
        for k in ("loopbacks", "management", "p2p", "servers")
        if k not in a.model_fields_set and ipaddress.IPv4Network(getattr(a, k)).num_addresses < need[k]
    ]
    if not small:
        return intent, []
    taken = [ipaddress.IPv4Network(getattr(a, k)) for k in ("loopbacks", "management", "p2p", "servers") if k not in small]
    update, notes = {}, []
    for k in sorted(small, key=lambda k: (-need[k], k)):
        prefix = prefix_for(need[k])
        net = _free_block(prefix, taken)
        if net is None:
            raise InfeasibleError(
                f"needs a /{prefix} ({need[k]:,} addresses) and none is free in {', '.join(_SPACES)}", f"addressing.{k}"
            )
        taken.append(net)
        update[k] = str(net)
        notes.append(
            f"addressing.{k}: {net} chosen (the default {getattr(a, k)} holds "
            f"{ipaddress.IPv4Network(getattr(a, k)).num_addresses:,} addresses; this design needs {need[k]:,})"
        )
    new = a.model_copy(update=update)
    return intent.model_copy(update={"addressing": new}), notes


def _free_block(prefix: int, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network | None:
    for space in map(ipaddress.IPv4Network, _SPACES):
        if prefix < space.prefixlen:
            continue
        step = 1 << (32 - prefix)
        start = int(space.network_address)
        while start + step <= int(space.broadcast_address) + 1:
            net = ipaddress.IPv4Network((start, prefix))
            clash = [t for t in taken if t.overlaps(net)]
            if not clash:
                return net
            # jump past the clashing block, aligned to this size
            end = max(int(t.broadcast_address) for t in clash) + 1
            start = -(-end // step) * step
    return None


def ip_text(values: np.ndarray) -> np.ndarray:
    """uint32 addresses -> dotted quads; 0 means 'no address' and becomes ""."""
    v = np.asarray(values, dtype=np.int64)
    parts = [((v >> s) & 255).astype(str) for s in (24, 16, 8, 0)]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, "."), p)
    out = out.astype(object)
    out[v == 0] = ""
    return out


def maxima(sz: Sizing) -> dict[str, int]:
    """Largest role index + 1 per role at the fabric's planned maximum size (growth)."""
    leaves = (1 if sz.shared_leaf else sz.scalable_units_max * sz.rails) * sz.planes
    groups = (sz.rails if sz.architecture == "rail-only" else max(sz.pods_max, 1)) if sz.tiers >= 2 else 0
    spines = groups * sz.spines_per_group * sz.planes
    cores = sz.spines_per_group * sz.cores_per_group * sz.planes if sz.tiers == 3 else 0
    return {"leaf": leaves, "spine": spines, "core": cores, "group": groups * sz.planes}


def assign(intent: Intent, sz: Sizing, sk: Skeleton) -> tuple[dict, dict, dict, list[str]]:
    """Returns (device columns, link columns, subnet columns, notes)."""
    a = intent.addressing
    dev, links = sk.dev, sk.links
    role, ridx = dev["role"], dev["role_index"]
    mx = maxima(sz)
    pool_need = needs(intent, sz)
    notes: list[str] = []
    n = len(role)
    is_ = {r: role == r for r in ("leaf", "spine", "core", "server")}

    # ---- loopbacks
    base, size = _pool(a.loopbacks)
    blocks = {"leaf": (1, size // 2 - 1), "spine": (size // 2, size // 4), "core": (3 * size // 4, size // 4 - 1)}
    loop = np.zeros(n, dtype=np.int64)
    for r, (off, cap) in blocks.items():
        _need("addressing.loopbacks", a.loopbacks, cap, mx[r], f"{r} loopbacks", pool_need["loopbacks"])
        loop[is_[r]] = base + off + ridx[is_[r]]

    # ---- management
    base, size = _pool(a.management)
    q = (size - 16) // 3
    mgmt = np.zeros(n, dtype=np.int64)
    for i, r in enumerate(("leaf", "spine", "core")):
        _need("addressing.management", a.management, q, mx[r], f"{r} management addresses", pool_need["management"])
        mgmt[is_[r]] = base + 16 + i * q + ridx[is_[r]]
    mgmt_prefix = ipaddress.IPv4Network(a.management).prefixlen

    # ---- MACs: locally administered 02:7f:<role>:<index, 24 bits>
    code = np.zeros(n, dtype=np.int64)
    for i, r in enumerate(("leaf", "spine", "core"), start=1):
        code[is_[r]] = i
    mac = np.full(n, "", dtype=object)
    sw = ~is_["server"]
    mac[sw] = [
        f"02:7f:{c:02x}:{(x >> 16) & 255:02x}:{(x >> 8) & 255:02x}:{x & 255:02x}"
        for c, x in zip(code[sw].tolist(), ridx[sw].tolist())
    ]

    # ---- ASNs
    need16 = (
        mx["leaf"] <= ASN16["last"] - ASN16["leaf"] + 1
        and mx["group"] <= ASN16["leaf"] - ASN16["spine"]
        and (a.asn.spine == "per-group" or mx["spine"] <= ASN16["leaf"] - ASN16["spine"])
    )
    scheme = a.asn.scheme
    if scheme == "auto":
        scheme = "16bit" if need16 else "32bit"
        notes.append(
            f"ASNs: {scheme} private range ({mx['leaf']} leaves" + (", 16-bit range too small)" if scheme == "32bit" else ")")
        )
    elif scheme == "16bit" and not need16:
        raise InfeasibleError(
            f"{mx['leaf']} leaves and {mx['group']} spine groups do not fit the 16-bit private ASNs "
            f"({ASN16['last'] - ASN16['leaf'] + 1} for leaves); use scheme 32bit or auto",
            "addressing.asn.scheme",
        )
    A = ASN16 if scheme == "16bit" else ASN32
    asn = np.zeros(n, dtype=np.int64)
    asn[is_["core"]] = A["core"]
    asn[is_["leaf"]] = A["leaf"] + ridx[is_["leaf"]]
    spine_key = dev["group"][is_["spine"]] - 1 if a.asn.spine == "per-group" else ridx[is_["spine"]]
    asn[is_["spine"]] = A["spine"] + spine_key

    # ---- point-to-point links (switch-switch)
    kind = links["kind"]
    a_ip = np.zeros(len(kind), dtype=np.int64)
    b_ip = np.zeros(len(kind), dtype=np.int64)
    plen = np.zeros(len(kind), dtype=np.int64)
    base, size = _pool(a.p2p)
    half = size // 2
    for i, (k, slots) in enumerate(
        (
            ("leaf-spine", mx["leaf"] * sz.leaf.up_ports),
            ("spine-core", mx["spine"] * (sz.spine.up_ports if sz.tiers == 3 and sz.spine else 0)),
        )
    ):
        m = kind == k
        if not m.any():
            continue
        _need("addressing.p2p", a.p2p, half, 2 * slots, f"{k} /31s", pool_need["p2p"])
        even = base + i * half + 2 * links["slot"][m]
        b_ip[m], a_ip[m], plen[m] = even, even + 1, 31

    # ---- servers
    m = kind == "nic"
    base, size = _pool(a.servers)
    d = sz.servers_per_su
    subnet = {"leaf": np.zeros(0, dtype=np.int64), "rail": [], "vlan": [], "prefix": [], "gateway": []}
    if a.server_links == "vlan":
        host_bits = math.ceil(math.log2(d + 3))
        per = sz.subnets_per_leaf
        _need("addressing.servers", a.servers, size, (mx["leaf"] * per) << host_bits, "server subnets", pool_need["servers"])
        leaves = np.repeat(np.flatnonzero(is_["leaf"]), per)
        rail = np.tile(np.arange(1, per + 1), len(leaves) // per) if sz.shared_leaf else dev["rail"][leaves]
        net = base + ((ridx[leaves] * per + rail - 1 if sz.shared_leaf else ridx[leaves]) << host_bits)
        subnet = {
            "leaf": leaves,
            "rail": rail,
            "vlan": a.vlan_base + rail,
            "prefix": np.char.add(ip_text(net).astype(str), f"/{32 - host_bits}").astype(object),
            "gateway": ip_text(net + 1),
        }
        if a.vlan_base + sz.rails > 4094:
            raise InfeasibleError(f"VLANs {a.vlan_base + 1}..{a.vlan_base + sz.rails} pass 4094", "addressing.vlan_base")
        net_of = base + ((links["slot"][m] // d) << host_bits)
        a_ip[m] = net_of + 2 + links["slot"][m] % d
        b_ip[m] = net_of + 1
        plen[m] = 32 - host_bits
    else:
        _need(
            "addressing.servers", a.servers, size, 2 * mx["leaf"] * sz.subnets_per_leaf * d, "server /31s", pool_need["servers"]
        )
        even = base + 2 * links["slot"][m]
        b_ip[m], a_ip[m], plen[m] = even, even + 1, 31

    dcols = {"asn": asn, "loopback": ip_text(loop), "mgmt": _with_len(ip_text(mgmt), mgmt_prefix), "mac": mac}
    lcols = {"a_ip": ip_text(a_ip), "b_ip": ip_text(b_ip), "prefix_len": plen}
    notes.append(f"servers: {'one VLAN subnet per leaf' if a.server_links == 'vlan' else 'a /31 per NIC'}")
    return dcols, lcols, subnet, notes


def _with_len(ips: np.ndarray, prefix: int) -> np.ndarray:
    out = ips.copy()
    has = out != ""
    out[has] = np.char.add(out[has].astype(str), f"/{prefix}")
    return out
