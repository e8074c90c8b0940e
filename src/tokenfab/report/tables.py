"""Plan reports as CSV: cabling, IP plan, BOM. Deterministic: rows in fabric order."""

from __future__ import annotations

import numpy as np

from tokenfab.design.bom import bom, rack_power, totals  # noqa: F401  (totals: the CLI's plan summary)
from tokenfab.design.model import Fabric
from tokenfab.fileio import csv_text


def length_class(length_m: float) -> str:
    for limit in (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 100, 150, 300, 500, 2000):
        if length_m <= limit:
            return f"<={limit}m"
    return ">2km"


def cabling_csv(f: Fabric) -> str:
    L, names = f.links, f.devices["name"]
    racks = f.devices["rack"]
    cols = [
        L["kind"].tolist(),
        names[L["a"]].tolist(),
        L["a_port"].tolist(),
        racks[L["a"]].tolist(),
        names[L["b"]].tolist(),
        L["b_port"].tolist(),
        racks[L["b"]].tolist(),
        L["speed_gbps"].tolist(),
        L["medium"].tolist(),
        L["length_m"].tolist(),
        [length_class(x) for x in L["length_m"].tolist()],
    ]
    return csv_text(
        [
            "kind",
            "a_device",
            "a_port",
            "a_rack",
            "b_device",
            "b_port",
            "b_rack",
            "speed_gbps",
            "medium",
            "length_m",
            "length_class",
        ],
        zip(*cols),
    )


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
        rows.append(
            (
                names[S["leaf"][r]],
                f"Vlan{S['vlan'][r]}",
                f"{S['gateway'][r]}/{S['prefix'][r].split('/')[1]}",
                f"server subnet {S['prefix'][r]} rail {S['rail'][r]}",
                "",
                "",
                "",
            )
        )
    return csv_text(["device", "interface", "address", "purpose", "peer", "peer_address", "asn"], rows)


def bom_rows(f: Fabric) -> list[dict]:
    """The BOM (design/bom.py) as plain rows, for JSON and CSV."""
    return [r.as_dict() for r in bom(f)]


def bom_csv(f: Fabric) -> str:
    rows = bom_rows(f)
    header = [
        "network",
        "category",
        "model",
        "count",
        "unit_price_usd",
        "total_price_usd",
        "unit_power_w",
        "total_power_w",
        "price_source",
    ]
    body = [[r[h] if not isinstance(r[h], float) else f"{r[h]:.2f}" for h in header] for r in rows]
    total_p = sum(r["total_price_usd"] for r in rows)
    total_w = sum(r["total_power_w"] for r in rows)
    body.append(["total", "", "", "", "", f"{total_p:.2f}", "", f"{total_w:.2f}", ""])
    per_rack = rack_power(f)
    for rack, w in per_rack:
        body.append(["rack", "power", rack, "", "", "", "", f"{w:.2f}", ""])
    return csv_text(header, body)
