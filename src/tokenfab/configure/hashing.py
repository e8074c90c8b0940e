"""The ECMP hash: one list of header fields, shared by the switches' SWITCH_HASH and the simulator.

Switches hash the 5-tuple. RoCEv2 is UDP to port 4791, so the destination port never varies; the
entropy comes from the UDP source port, which NICs set per queue pair (QP). The simulator models
exactly this (a deterministic hash of the 5-tuple with one source port per QP), so both describe
the same path choice. Import `ECMP_HASH_FIELDS` rather than restating it.
"""

from __future__ import annotations

# SONiC hash-field names (sonic-hash.yang, SWITCH_HASH|GLOBAL ecmp_hash / lag_hash), in 5-tuple order.
ECMP_HASH_FIELDS: tuple[str, ...] = ("SRC_IP", "DST_IP", "IP_PROTOCOL", "L4_SRC_PORT", "L4_DST_PORT")
LAG_HASH_FIELDS: tuple[str, ...] = ECMP_HASH_FIELDS
ROCE_UDP_DST_PORT = 4791


def switch_hash_table() -> dict:
    """The SWITCH_HASH table of config_db.json (leaf-lists are JSON arrays)."""
    return {"GLOBAL": {"ecmp_hash": list(ECMP_HASH_FIELDS), "lag_hash": list(LAG_HASH_FIELDS)}}
