"""Intent YAML posted to the app: parsed with bounds, checked as the CLI checks it, each problem on its line."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tokenfab.errors import InputError
from tokenfab.server.models import IntentProblem
from tokenfab.server.security import excerpt, load_yaml_text

SYNC_PLAN_MAX_GPUS = 262_144  # plans above this size belong on the command line


def yaml_line(text: str, field: str | None) -> int | None:
    """Line of a dotted field path in YAML text (the key's line), or None."""
    import yaml

    if not field:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in field.split("."):
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def problems(text: str, exc: InputError) -> list[IntentProblem]:
    """Every problem with its field and line: the model's own errors one by one when the YAML parses,
    else the one message (a YAML syntax error, a catalog reference, an infeasible size)."""
    from pydantic import ValidationError

    from tokenfab.intent import Intent

    try:
        data = load_yaml_text(text, "intent")
        Intent.model_validate(data)
    except ValidationError as verr:
        out = []
        for e in verr.errors()[:50]:
            field = ".".join(str(p) for p in e["loc"]) or None
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling; see the intent's schema for the accepted keys)"
            elif e["type"] == "missing":
                msg = "required field is missing"
            elif not isinstance(e.get("input"), (dict, list)):
                msg += f" (got {excerpt(repr(e.get('input')), 60)})"
            out.append(IntentProblem(field=field, message=f"{field}: {msg}" if field else msg, line=yaml_line(text, field)))
        return out
    except (InputError, ValueError, TypeError):
        pass
    return [IntentProblem(field=exc.field, message=excerpt(str(exc), 2000), line=yaml_line(text, exc.field))]


def no_server_files(data: Any) -> Any:
    """A posted intent must not make the server read files of its choosing."""
    if isinstance(data, dict) and data.get("catalog"):
        raise InputError(
            "a posted intent cannot name files on the server; start the server with a user-wide "
            "catalog folder ($TOKENFAB_CATALOG) instead",
            "catalog",
        )
    return data


def parse_intent_text(text: str):
    from tokenfab.intent import parse_intent

    data = no_server_files(load_yaml_text(text, "intent"))
    intent = parse_intent(data, "intent")
    gpus = intent.cluster.servers * intent.cluster.gpus_per_server
    if gpus > SYNC_PLAN_MAX_GPUS:
        raise InputError(
            f"{gpus:,} GPUs: the app plans up to {SYNC_PLAN_MAX_GPUS:,}; plan larger fabrics with "
            "`tokenfab plan` into the workspace",
            "cluster.servers",
        )
    return intent


@lru_cache(maxsize=512)
def intent_record(text: str) -> tuple[bool, str | None, str | None]:
    """(plans?, the error, the intent as JSON text) of intent YAML text."""
    try:
        intent = parse_intent_text(text)
    except InputError as exc:
        return False, str(exc), None
    return True, None, json.dumps(intent.model_dump(mode="json"), sort_keys=True)
