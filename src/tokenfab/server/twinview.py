"""Twins running on the server's machine, read only: their status and the result of `twin check`.

Reading a twin's FRR state needs root (vtysh sockets in the twin's state folder), as on the CLI;
without it each twin is listed with the reason its state cannot be read.
"""

from __future__ import annotations

from typing import Any


def twins(with_check: bool = True) -> list[dict[str, Any]]:
    from tokenfab.errors import InputError
    from tokenfab.twin import api
    from tokenfab.twin.state import Twin, list_twins, state_root

    root = state_root()
    out: list[dict[str, Any]] = []
    for name in list_twins(root):
        rec = Twin(root, name).load()
        item: dict[str, Any] = {"name": name, "fabric": rec.get("fabric") or rec.get("plan"), "status": None,
                                "check": None, "error": None}
        try:
            item["status"] = api.status(name, root)
            if with_check:
                item["check"] = api.check(name, root, dataplane_checks=False)
        except (InputError, OSError, PermissionError) as exc:
            item["error"] = str(exc)
        out.append(item)
    return out
