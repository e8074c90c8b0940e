"""Cable and optic choice per link: the cheapest catalog item of the link's speed whose reach
covers the run. Transceiver links count two modules and a fibre."""

from __future__ import annotations

import numpy as np

from tokenfab.catalog import Catalog, Optic

_OPTIONS: dict[tuple[int, int], tuple[Optic, ...]] = {}


def _options(catalog: Catalog, speed_gbps: int) -> tuple[Optic, ...]:
    key = (id(catalog), speed_gbps)
    if key in _OPTIONS:
        return _OPTIONS[key]
    items = [o for o in catalog.optics.values() if o.speed_gbps == speed_gbps and o.kind != "fiber" and o.breakout == 1]
    _OPTIONS[key] = tuple(sorted(items, key=lambda o: (o.reach_m, link_price(catalog, o))))
    return _OPTIONS[key]


def link_price(catalog: Catalog, o: Optic) -> float:
    fiber = fiber_for(catalog, o)
    return o.price_usd * (2 if o.kind == "transceiver" else 1) + (fiber.price_usd if fiber else 0.0)


def fiber_for(catalog: Catalog, o: Optic) -> Optic | None:
    """The fibre a transceiver link needs (MPO for parallel optics, LC duplex for FR)."""
    if o.kind != "transceiver" or not o.fiber:
        return None
    return catalog.get("optics", o.fiber, f"optics {o.model}.fiber")


def choose(catalog: Catalog, speed_gbps: int, length_m: float) -> Optic | None:
    fits = [o for o in _options(catalog, speed_gbps) if o.reach_m >= length_m]
    return min(fits, key=lambda o: link_price(catalog, o)) if fits else None


def assign(catalog: Catalog, speed: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Catalog optic model per link ("" where no catalog item reaches)."""
    out = np.full(len(speed), "", dtype=object)
    pairs = np.unique(np.stack([speed, length]), axis=1) if len(speed) else np.zeros((2, 0))
    for s, length_m in pairs.T:
        o = choose(catalog, int(s), float(length_m))
        out[(speed == s) & (length == length_m)] = o.model if o else ""
    return out
