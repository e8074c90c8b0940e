"""Small fabrics for the simulator tests: 8-GPU servers with 8 x 400G NICs in two scalable units.

CX732Q-N leaves (32 x 400G) keep them small: with 16 servers per unit a leaf has 16 uplinks, so a
unit's rail leaf sends as many flows up as it has spine paths."""

from functools import cache

from tokenfab import parse_intent, plan


@cache
def nonblocking(gpu_model: str = "H100"):
    """32 servers (256 GPUs), 16 per unit; 16 spines, one 400G link from every leaf to each."""
    return plan(
        parse_intent(
            {
                "name": "sim-nonblocking",
                "cluster": {"servers": 32, "gpus_per_server": 8, "gpu_model": gpu_model, "nic_model": "ConnectX-7"},
                "fabric": {
                    "architecture": "rail-optimized",
                    "switch_model": "CX732Q-N",
                    "servers_per_su": 16,
                    "spine": {"count": 16},
                },
            }
        )
    )


@cache
def oversubscribed():
    """42 servers, 21 per unit; leaves 2:1 (21 x 400G down, 21 x 200G up to 7 spines, 3 links each)."""
    return plan(
        parse_intent(
            {
                "name": "sim-oversub",
                "cluster": {"servers": 42, "gpus_per_server": 8, "nic_model": "ConnectX-7"},
                "fabric": {
                    "architecture": "rail-optimized",
                    "switch_model": "CX732Q-N",
                    "servers_per_su": 21,
                    "leaf": {"oversubscription": 2, "uplink_breakout": "2x200G[100G]"},
                },
            }
        )
    )


def interleaved(per_su: int, first: int = 1, count: int | None = None, step: int = 1) -> str:
    """Ring order alternating between the two units: srv-1, srv-17, srv-2, srv-18, ..."""
    count = per_su if count is None else count
    return ",".join(f"srv-{first + i},srv-{first + i + per_su}" for i in range(0, count, step))


@cache
def three_tier():
    """64 servers, 16 per unit, 2 units per pod, 2 pods; one link from each leaf to each of its
    pod's 16 spines and from each spine to 16 cores."""
    return plan(
        parse_intent(
            {
                "name": "sim-three-tier",
                "cluster": {"servers": 64, "gpus_per_server": 8, "nic_model": "ConnectX-7"},
                "fabric": {"architecture": "rail-optimized", "switch_model": "CX732Q-N", "servers_per_su": 16, "tiers": 3},
            }
        )
    )
