"""Plans the app reads again and again: Fabrics and their summaries, cached while fabric.json is unchanged."""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any


def load_fabric(path: Path):
    """fabric.json as a Fabric, cached while the file is unchanged (a 32,768-GPU plan takes a second to load)."""
    st = path.stat()
    return cached_fabric(str(path), st.st_mtime_ns, st.st_size)


FABRICS: OrderedDict[tuple[str, int, int], Any] = OrderedDict()  # a few Fabrics, least recently used out
FABRICS_MAX = 8


def cached_fabric(path: str, mtime_ns: int, size: int):
    from tokenfab.design.model import Fabric

    key = (path, mtime_ns, size)
    if key in FABRICS:
        FABRICS.move_to_end(key)
        return FABRICS[key]
    return remember(key, Fabric.load(path))


def remember(key: tuple[str, int, int], fabric):
    FABRICS[key] = fabric
    while len(FABRICS) > FABRICS_MAX:
        FABRICS.popitem(last=False)
    return fabric


@lru_cache(maxsize=512)
def plan_record(path: str, mtime_ns: int, size: int) -> tuple[str, dict[str, Any]]:
    """(the plan's intent as JSON text, the plan's summary): small, so every design's stays cached."""
    fabric = cached_fabric(path, mtime_ns, size)
    return json.dumps(fabric.intent.model_dump(mode="json"), sort_keys=True), fabric_summary(fabric)


def fabric_summary(fabric) -> dict[str, Any]:
    from tokenfab.report.tables import totals

    counts = fabric.counts()
    return {
        "design": fabric.design.model_dump(mode="json", exclude_none=True),
        "counts": counts,
        "totals": totals(fabric),
        "switches": int(fabric.switch_mask.sum()) if hasattr(fabric, "switch_mask") else None,
    }
