"""The bill of materials of a fabric: every part with its count, price (USD) and power (W).

One typed row per (network, category, model); the plan's bom.csv, the web app, sweeps and the
factory's power and capex all read these rows, so a category is an enum, never a string to match.
Prices and power come from the catalog unless the intent overrides them (`prices_usd`, `power_w`);
optics are counted with the intent's spares, and a fiber for each optic that needs one.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from enum import Enum

from tokenfab.catalog import load_catalog
from tokenfab.design import media
from tokenfab.design.model import Fabric
from tokenfab.design.racks import servers_per_rack


class Category(str, Enum):  # noqa: UP042 -- StrEnum would change str(Category.X) in outputs
    SERVER = "server"
    SWITCH = "switch"
    NIC = "nic"
    OPTIC = "optic"

    @property
    def catalog_kind(self) -> str:
        """The catalog table the model is looked up in."""
        return {"server": "servers", "switch": "switches", "nic": "nics", "optic": "optics"}[self.value]


# the parts of the network (everything but the servers): what a fabric costs and draws on its own
NETWORK_CATEGORIES = frozenset({Category.SWITCH, Category.OPTIC, Category.NIC})


@dataclass(frozen=True)
class BomRow:
    network: str  # compute | backend | frontend | storage
    category: Category
    model: str
    count: int
    unit_price_usd: float
    unit_power_w: float
    price_source: str  # intent | published | estimate

    @property
    def total_price_usd(self) -> float:
        return self.unit_price_usd * self.count

    @property
    def total_power_w(self) -> float:
        return self.unit_power_w * self.count

    def as_dict(self) -> dict:
        """The row as bom.csv and the web app show it."""
        return {
            "network": self.network,
            "category": self.category.value,
            "model": self.model,
            "count": self.count,
            "unit_price_usd": self.unit_price_usd,
            "total_price_usd": self.total_price_usd,
            "unit_power_w": self.unit_power_w,
            "total_power_w": self.total_power_w,
            "price_source": self.price_source,
        }


def bom(f: Fabric) -> list[BomRow]:
    """Every part of the fabric, compute first, then by network, category and model."""
    cat = load_catalog(f.catalog_layers)
    it = f.intent
    spares = it.racks.spares_percent / 100
    items: Counter = Counter()
    D = f.devices
    for role, model in zip(D["role"].tolist(), D["model"].tolist()):
        c = Category.SERVER if role == "server" else Category.SWITCH
        items[(c, model, "compute" if c is Category.SERVER else "backend")] += 1
    n_servers = int((D["role"] == "server").sum())
    items[(Category.NIC, it.cluster.nic_model, "backend")] += n_servers * it.nics_per_server
    L = f.links
    for model, n in Counter(L["medium"].tolist()).items():
        if not model:
            continue
        o = cat.optics[model]
        ends = 2 if o.kind == "transceiver" else 1
        items[(Category.OPTIC, model, "backend")] += math.ceil(n * ends * (1 + spares))
        fiber = media.fiber_for(cat, o)
        if fiber:
            items[(Category.OPTIC, fiber.model, "backend")] += math.ceil(n * (1 + spares))
    for side in ("frontend", "storage"):
        if getattr(it, side) is None:
            continue
        for (c, model), n in side_network(f, side).items():
            items[(c, model, side)] += n
    rows = []
    # sorted as the plan always listed them: compute first, then network, catalog table, model
    for (c, model, net), n in sorted(
        items.items(), key=lambda kv: (kv[0][2] != "compute", kv[0][2], kv[0][0].catalog_kind, kv[0][1])
    ):
        item = cat.get(c.catalog_kind, model)
        p = it.prices_usd.get(model, item.price_usd)
        w = it.power_w.get(model, item.power_w)
        estimate = model not in it.prices_usd and "estimate" in item.sources.get("price_usd", "estimate")
        rows.append(
            BomRow(net, c, model, n, p, w, "intent" if model in it.prices_usd else ("estimate" if estimate else "published"))
        )
    return rows


def side_network(f: Fabric, side: str) -> Counter:
    """Parts of a frontend or storage network: switches, NICs, endpoint cables, uplink optics."""
    cat = load_catalog(f.catalog_layers)
    net = f.design["networks"][side]
    out: Counter = Counter()
    out[(Category.SWITCH, net["switch_model"])] = net["leaves"] + net["spines"]
    for model, links in ((net["endpoint_optic"], net["endpoints"]), (net["uplink_optic"], net["leaves"] * net["up_per_leaf"])):
        if model and links:
            o = cat.optics[model]
            out[(Category.OPTIC, model)] += links * (2 if o.kind == "transceiver" else 1)
            if media.fiber_for(cat, o):
                out[(Category.OPTIC, o.fiber)] += links
    nic = min((n for n in cat.nics.values() if n.speed_gbps >= net["speed_gbps"]), key=lambda n: n.speed_gbps, default=None)
    if nic:
        out[(Category.NIC, nic.model)] = net["server_ports"]
    return out


def power_w(rows: list[BomRow], categories: frozenset[Category] | set[Category] | None = None) -> float:
    """Total power of the rows (of the given categories)."""
    return sum(r.total_power_w for r in rows if categories is None or r.category in categories)


def price_usd(rows: list[BomRow], categories: frozenset[Category] | set[Category] | None = None) -> float:
    """Total price of the rows (of the given categories)."""
    return sum(r.total_price_usd for r in rows if categories is None or r.category in categories)


def rack_power(f: Fabric) -> list[tuple[str, float]]:
    """Power per rack (servers and switches), racks in natural order."""
    cat = load_catalog(f.catalog_layers)
    D = f.devices
    watts: Counter = Counter()
    for role, model, rack in zip(D["role"].tolist(), D["model"].tolist(), D["rack"].tolist()):
        kind = Category.SERVER if role == "server" else Category.SWITCH
        watts[rack] += f.intent.power_w.get(model, cat.get(kind.catalog_kind, model).power_w)
    return sorted(watts.items(), key=lambda kv: (kv[0].rstrip("0123456789"), len(kv[0]), kv[0]))


def totals(f: Fabric) -> dict[str, float]:
    rows = bom(f)
    return {
        "price_usd": price_usd(rows),
        "power_w": power_w(rows),
        "servers_per_rack": servers_per_rack(f.intent, load_catalog(f.catalog_layers)),
    }
