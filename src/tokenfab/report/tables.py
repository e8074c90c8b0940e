"""Plan reports as CSV: cabling, IP plan, BOM. Deterministic: rows in fabric order."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from tokenfab.catalog import load_catalog
from tokenfab.design import media
from tokenfab.design.model import Fabric
from tokenfab.design.racks import servers_per_rack
from tokenfab.fileio import csv_text


def length_class(length_m: float) -> str:
    for limit in (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 100, 150, 300, 500, 2000):
        if length_m <= limit:
            return f"<={limit}m"
    return ">2km"


def cabling_csv(f: Fabric) -> str:
    L, names = f.links, f.devices["name"]
    racks = f.devices["rack"]
    cols = [L["kind"].tolist(), names[L["a"]].tolist(), L["a_port"].tolist(), racks[L["a"]].tolist(),
            names[L["b"]].tolist(), L["b_port"].tolist(), racks[L["b"]].tolist(), L["speed_gbps"].tolist(),
            L["medium"].tolist(), L["length_m"].tolist(), [length_class(x) for x in L["length_m"].tolist()]]
    return csv_text(["kind", "a_device", "a_port", "a_rack", "b_device", "b_port", "b_rack", "speed_gbps",
                 "medium", "length_m", "length_class"], zip(*cols))


def ip_plan_csv(f: Fabric) -> str:
    D, L, names = f.devices, f.links, f.devices["name"]
    rows = []
    sw = np.flatnonzero(D["role"] != "server")
    for i in sw.tolist():
        rows.append((names[i], "Loopback0", D["loopback"][i] + "/32", "loopback", "", "", D["asn"][i]))
        rows.append((names[i], "eth0", D["mgmt"][i], "management", "", "", ""))
    for r in range(len(L)):
        a, b, plen = names[L["a"][r]], names[L["b"][r]], int(L["prefix_len"][r])
        kind = L["kind"][r]
        rows.append((a, L["a_port"][r], f"{L['a_ip'][r]}/{plen}", kind, b, L["b_ip"][r], ""))
        if kind != "nic" or plen == 31:
            rows.append((b, L["b_port"][r], f"{L['b_ip'][r]}/{plen}", kind, a, L["a_ip"][r], ""))
    S = f.subnets
    for r in range(len(S)):
        rows.append((names[S["leaf"][r]], f"Vlan{S['vlan'][r]}", f"{S['gateway'][r]}/{S['prefix'][r].split('/')[1]}",
                     f"server subnet {S['prefix'][r]} rail {S['rail'][r]}", "", "", ""))
    return csv_text(["device", "interface", "address", "purpose", "peer", "peer_address", "asn"], rows)


def bom_rows(f: Fabric) -> list[dict]:
    """Items with counts, unit and total price (USD) and power (W). Estimates are marked."""
    cat = load_catalog()
    it = f.intent
    spares = it.racks.spares_percent / 100

    def price(kind: str, model: str) -> float:
        return it.prices_usd.get(model, cat.get(kind, model).price_usd)

    def power(kind: str, model: str) -> float:
        return it.power_w.get(model, cat.get(kind, model).power_w)

    items: Counter = Counter()
    D = f.devices
    for role, model in zip(D["role"].tolist(), D["model"].tolist()):
        kind = "servers" if role == "server" else "switches"
        items[(kind, model, "backend" if kind == "switches" else "compute")] += 1
    n_servers = int((D["role"] == "server").sum())
    items[("nics", it.cluster.nic_model, "backend")] += n_servers * it.nics_per_server
    L = f.links
    for model, n in Counter(L["medium"].tolist()).items():
        if not model:
            continue
        o = cat.optics[model]
        ends = 2 if o.kind == "transceiver" else 1
        items[("optics", model, "backend")] += math.ceil(n * ends * (1 + spares))
        fiber = media.fiber_for(cat, o)
        if fiber:
            items[("optics", fiber.model, "backend")] += math.ceil(n * (1 + spares))
    for side in ("frontend", "storage"):
        net = getattr(it, side)
        if net is None:
            continue
        for (kind, model), n in side_network(f, side).items():
            items[(kind, model, side)] += n
    rows = []
    for (kind, model, net), n in sorted(items.items(), key=lambda kv: (kv[0][2] != "compute", kv[0][2], kv[0][0], kv[0][1])):
        p, w = price(kind, model), power(kind, model)
        item = cat.get(kind, model)
        estimate = model not in it.prices_usd and "estimate" in item.sources.get("price_usd", "estimate")
        category = {"switches": "switch", "servers": "server", "nics": "nic", "optics": "optic"}[kind]
        rows.append({"network": net, "category": category, "model": model, "count": n, "unit_price_usd": p,
                     "total_price_usd": p * n, "unit_power_w": w, "total_power_w": w * n,
                     "price_source": "intent" if model in it.prices_usd else ("estimate" if estimate else "published")})
    return rows


def side_network(f: Fabric, side: str) -> Counter:
    """Parts of a frontend or storage network: switches, NICs, endpoint cables, uplink optics."""
    cat = load_catalog()
    net = f.design["networks"][side]
    out: Counter = Counter()
    out[("switches", net["switch_model"])] = net["leaves"] + net["spines"]
    for model, links in ((net["endpoint_optic"], net["endpoints"]), (net["uplink_optic"], net["leaves"] * net["up_per_leaf"])):
        if model and links:
            o = cat.optics[model]
            out[("optics", model)] += links * (2 if o.kind == "transceiver" else 1)
            if media.fiber_for(cat, o):
                out[("optics", o.fiber)] += links
    nic = min((n for n in cat.nics.values() if n.speed_gbps >= net["speed_gbps"]), key=lambda n: n.speed_gbps, default=None)
    if nic:
        out[("nics", nic.model)] = net["server_ports"]
    return out


def bom_csv(f: Fabric) -> str:
    rows = bom_rows(f)
    header = ["network", "category", "model", "count", "unit_price_usd", "total_price_usd", "unit_power_w",
              "total_power_w", "price_source"]
    body = [[r[h] if not isinstance(r[h], float) else f"{r[h]:.2f}" for h in header] for r in rows]
    total_p = sum(r["total_price_usd"] for r in rows)
    total_w = sum(r["total_power_w"] for r in rows)
    body.append(["total", "", "", "", "", f"{total_p:.2f}", "", f"{total_w:.2f}", ""])
    per_rack = rack_power(f)
    for rack, w in per_rack:
        body.append(["rack", "power", rack, "", "", "", "", f"{w:.2f}", ""])
    return csv_text(header, body)


def rack_power(f: Fabric) -> list[tuple[str, float]]:
    cat = load_catalog()
    D = f.devices
    watts: Counter = Counter()
    for role, model, rack in zip(D["role"].tolist(), D["model"].tolist(), D["rack"].tolist()):
        kind = "servers" if role == "server" else "switches"
        watts[rack] += f.intent.power_w.get(model, cat.get(kind, model).power_w)
    return sorted(watts.items(), key=lambda kv: (kv[0].rstrip("0123456789"), len(kv[0]), kv[0]))


def totals(f: Fabric) -> dict[str, float]:
    rows = bom_rows(f)
    return {"price_usd": sum(r["total_price_usd"] for r in rows), "power_w": sum(r["total_power_w"] for r in rows),
            "servers_per_rack": servers_per_rack(f.intent, load_catalog())}
