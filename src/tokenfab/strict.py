"""The one pydantic base for every file a user writes (intent, factory, sweep, catalog entries).

Unknown keys are refused (a typo never falls back to a default), models are frozen (a parsed
file is a value), and NaN or infinity never pass as a number.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def validation_lines(exc: ValidationError, prefix: str = "") -> list[str]:
    """One "field.path: what is wrong (got value)" line per error, `prefix` before each path."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{path}" if prefix and path else (prefix or path or "(top level)")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; see examples/ for the accepted keys)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        got = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{path}: {msg}{shown}")
    return lines


def validation_message(exc: ValidationError) -> str:
    return "; ".join(validation_lines(exc))
