"""The one pydantic base for every file a user writes (intent, factory, sweep, catalog entries).

Unknown keys are refused (a typo never falls back to a default), models are frozen (a parsed
file is a value), NaN or infinity never pass as a number, and a boolean is never taken as a
number (YAML reads `servers: yes` as True, which pydantic would otherwise count as 1).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from tokenfab.errors import excerpt, shorten


def _admits(annotation: Any, kinds: tuple[type, ...]) -> bool:
    """Whether a field's type accepts one of `kinds` (walking Optional/Union/Literal/Annotated)."""
    if annotation in kinds or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return any(type(a) in kinds for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        args = typing.get_args(annotation)
        return any(_admits(a, kinds) for a in (args[:1] if origin is typing.Annotated else args))
    return False


def _bool_for_number(annotation: Any, value: Any) -> bool:
    """True where `value` holds a boolean in a place that takes a number, not a boolean."""
    if isinstance(value, bool):
        return _admits(annotation, (int, float)) and not _admits(annotation, (bool,))
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # a container value: look into the members that hold one
        return any(_bool_for_number(a, value) for a in typing.get_args(annotation))
    args = typing.get_args(annotation)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(_bool_for_number(args[1], v) for v in value.values())
    if origin in (list, tuple, set, frozenset) and isinstance(value, (list, tuple)) and args:
        return any(_bool_for_number(args[0], v) for v in value)
    return False


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _bool_for_number(field.annotation, value):
            inside = "" if isinstance(value, bool) else f" in {excerpt(value)}"
            raise ValueError(f"expected a number, got a boolean{inside}; YAML reads yes/no/on/off/true/false as booleans")
        return value


def validation_lines(exc: ValidationError | list, prefix: str = "") -> list[str]:
    """One "field.path: what is wrong (got value)" line per error (of `exc`, or its `errors()`
    after a change), `prefix` before each path."""
    lines = []
    for err in exc.errors() if isinstance(exc, ValidationError) else exc:
        path = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{path}" if prefix and path else (prefix or path or "(top level)")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; see examples/ for the accepted keys)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        got = err.get("input")
        # an error quotes at most a short excerpt of what it got (a huge or expanded value stays out)
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f" (got {excerpt(got)})"
        lines.append(f"{excerpt(path, 120) if len(path) > 120 else path}: {shorten(msg, 300)}{shown}")
    return lines


def validation_message(exc: ValidationError) -> str:
    lines = validation_lines(exc)
    more = f"; and {len(lines) - 10} more" if len(lines) > 10 else ""
    return "; ".join(lines[:10]) + more
