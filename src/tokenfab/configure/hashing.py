"""SWITCH_HASH of config_db.json, from the catalog's ECMP hash (the simulator reads the same data)."""

from __future__ import annotations

from tokenfab.catalog.hashing import ecmp_hash


def switch_hash_table() -> dict:
    """The SWITCH_HASH table of config_db.json (leaf-lists are JSON arrays)."""
    h = ecmp_hash()
    return {"GLOBAL": {"ecmp_hash": list(h.ecmp_hash), "lag_hash": list(h.lag_hash)}}
