"""Shared pieces of the factory description: names, places, daily swings, and the collector that
lets every section check its own references and report them all at once."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, model_validator

from tokenfab.errors import InputError
from tokenfab.strict import StrictModel

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class Problems:
    """Problems found while checking a description, each "field path: message", in file order."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, field: str, message: str) -> None:
        self.items.append(f"{field}: {message}")

    def add_error(self, exc: InputError) -> None:
        """A problem another check raised (its text already names the field)."""
        self.items.append(str(exc))

    def one_of(self, value: object, known: Iterable[object], field: str, what: str) -> bool:
        """True when `value` is known; else a problem naming what exists."""
        known = set(known)
        if value in known:
            return True
        self.add(field, f"unknown {what} {value!r} ({what}s: {', '.join(sorted(map(str, known))) or 'none defined'})")
        return False

    def unique(self, names: list[str], field: str, what: str) -> None:
        """A problem for every name used a second time, at `field`.{index}.name."""
        seen: set[str] = set()
        for k, n in enumerate(names):
            if n in seen:
                self.add(f"{field}.{k}.name", f"{what} name {n!r} is used twice")
            seen.add(n)

    def raise_all(self, source: str | None = None) -> None:
        """One InputError listing every problem (nothing when there is none)."""
        if self.items:
            raise InputError((f"{source}: " if source else "") + "; ".join(self.items))


class Diurnal(StrictModel):
    """rate(t) = mean x (1 + amplitude x cos(2 pi (hour - peak_h) / 24)); the daily mean stays `mean`."""

    amplitude: float = Field(0.0, ge=0, lt=1, description="Relative swing around the daily mean (0: flat).")
    peak_h: float = Field(14.0, ge=0, lt=24, description="Hour of the day the rate peaks.")


class Place(StrictModel):
    """Where something may be: racks (fabric `rack` column), pods, scalable units, or a named site.
    Several keys narrow the place (a server must match each one given)."""

    racks: list[str] = Field(default_factory=list, description="Rack names as in the plan (e.g. rack-7).")
    pods: list[int] = Field(default_factory=list, description="Pod numbers.")
    sus: list[int] = Field(default_factory=list, description="Scalable-unit numbers.")
    site: str | None = Field(None, description="A name from `sites`.")

    @property
    def given(self) -> bool:
        return bool(self.racks or self.pods or self.sus or self.site)


class Site(StrictModel):
    """A named place: racks, pods and/or scalable units."""

    racks: list[str] = Field(default_factory=list, description="Rack names as in the plan.")
    pods: list[int] = Field(default_factory=list, description="Pod numbers.")
    sus: list[int] = Field(default_factory=list, description="Scalable-unit numbers.")

    @model_validator(mode="after")
    def _some(self) -> Site:
        if not (self.racks or self.pods or self.sus):
            raise ValueError("a site names its racks, pods or sus")
        return self
