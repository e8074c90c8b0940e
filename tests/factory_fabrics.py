"""Small planned fabrics for the factory-layer tests (planned once per session)."""

from functools import cache

from tokenfab import parse_intent, plan


@cache
def small(storage_gbps: int = 100, storage_nodes: int = 2, links: int = 2, servers: int = 16):
    """servers x 4 H100 in two scalable units (8 servers each), six racks at 15 kW, frontend and
    storage networks of their own."""
    return plan(
        parse_intent(
            {
                "name": f"small-{servers}-{storage_gbps}g-{storage_nodes}x{links}",
                "cluster": {"servers": servers, "gpus_per_server": 4},
                "fabric": {"architecture": "rail-optimized", "switch_model": "CX732Q-N", "servers_per_su": 8},
                "frontend": {"speed_gbps": 100},
                "storage": {"speed_gbps": storage_gbps, "storage_nodes": storage_nodes, "storage_node_links": links},
                "racks": {"power_budget_kw": 15},
            }
        )
    )


def racks_of(fabric) -> dict[str, list[int]]:
    """rack -> server indices (fabric order)."""
    D = fabric.devices
    out: dict[str, list[int]] = {}
    k = 0
    for _name, role, rack in zip(D["name"], D["role"], D["rack"]):
        if role == "server":
            out.setdefault(str(rack), []).append(k)
            k += 1
    return out
