"""Shared pieces of the factory description: names, places, daily swings, the collector that
lets every section check its own references and report them all at once, and keys renamed to the
unit convention (the old name still loads, with a note)."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tokenfab.errors import InputError
from tokenfab.strict import StrictModel

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
MAX_LISTED = 20  # problems one error lists (the rest are counted)


class Problems:
    """Problems found while checking a description, each "field path: message", in file order."""

    def __init__(self, unchecked: Iterable[str] = ()) -> None:
        self.items: list[str] = []
        # kinds of name (`what` below) whose defining section failed its own checks: a reference to
        # one is neither known nor unknown, so it is not reported (the section's error already is)
        self.unchecked = set(unchecked)

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
        if what in self.unchecked:
            return False
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
        """One InputError listing every problem (nothing when there is none); a flood is cut short."""
        if self.items:
            more = f"; and {len(self.items) - MAX_LISTED} more" if len(self.items) > MAX_LISTED else ""
            raise InputError((f"{source}: " if source else "") + "; ".join(self.items[:MAX_LISTED]) + more)


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


def _unit_of(name: str) -> str:
    """How a renamed key's unit reads in the deprecation note."""
    for part, unit in (
        ("usd_per_tbyte_month", "$ per TB-month, TB = 10^12 bytes"),
        ("gbyte", "GB = 10^9 bytes"),
        ("tbyte", "TB = 10^12 bytes"),
    ):
        if part in name:
            return unit
    return "bytes"


def deprecation_note(path: str, new: str) -> str:
    """What a user reads about an old key at `path` (dotted) that was read as `new`."""
    return f"`{path}` is deprecated: write `{new}` (same unit, {_unit_of(new)}); the old name will be removed in a later release"


def _deprecated_properties(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """The old names in the JSON Schema, marked deprecated; exactly one of old and new is given."""
    props = schema.get("properties", {})
    for old, new in getattr(cls, "RENAMED", {}).items():
        spec = {k: v for k, v in props.get(new, {}).items() if k not in ("title", "default")}
        props[old] = {**spec, "deprecated": True, "description": f"Deprecated: the old name of `{new}` (same unit)."}
        if new in schema.get("required", []):
            schema["required"] = [r for r in schema["required"] if r != new]
            schema.setdefault("allOf", []).append({"oneOf": [{"required": [new]}, {"required": [old]}]})
        else:
            schema.setdefault("allOf", []).append({"not": {"required": [new, old]}})


class Renamed(StrictModel):
    """A model some of whose keys were renamed to the unit convention (`size_gb` -> `size_gbytes`):
    the old key (RENAMED: old -> new) still loads as the new one; giving both is refused.
    `deprecated_keys` finds the old keys in a file, with their paths, for the note users see."""

    model_config = ConfigDict(json_schema_extra=_deprecated_properties)
    RENAMED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(old in data for old in cls.RENAMED):
            return data
        both = [
            f"`{old}` (deprecated) and `{new}` are the same field: give only `{new}`"
            for old, new in cls.RENAMED.items()
            if old in data and new in data
        ]
        if both:
            raise ValueError("; ".join(both))
        return {cls.RENAMED.get(k, k): v for k, v in data.items()}


def deprecated_keys(model: Any, data: Any, path: tuple = ()) -> list[tuple[tuple, str, str]]:
    """Every old key in `data` read as `model` (walking nested models, lists and dicts by the
    fields' types): (path of the mapping holding it, old, new), in file order. Old keys given
    together with their new name are left out (that is an error, not a note)."""
    out: list[tuple[tuple, str, str]] = []
    if isinstance(model, type) and issubclass(model, BaseModel):
        if not isinstance(data, dict):
            return out
        renamed: dict[str, str] = getattr(model, "RENAMED", {})
        for key, value in data.items():
            name = renamed.get(key, key) if isinstance(key, str) else key
            if key in renamed and name not in data:
                out.append((path, key, renamed[key]))
            field = model.model_fields.get(name) if isinstance(name, str) else None
            if field is not None:
                out += deprecated_keys(field.annotation, value, (*path, key))
        return out
    origin, args = typing.get_origin(model), typing.get_args(model)
    if origin in (list, tuple) and isinstance(data, list) and args:
        for i, item in enumerate(data):
            out += deprecated_keys(args[0], item, (*path, i))
    elif origin is dict and isinstance(data, dict) and len(args) == 2:
        for k, item in data.items():
            out += deprecated_keys(args[1], item, (*path, k))
    elif origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in args[:1] if origin is typing.Annotated else args:
            out += deprecated_keys(arg, data, path)
    return out
