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
        item: dict[str, Any] = {"name": name, "source": rec.get("source"), "status": None, "check": None, "error": None}
        try:
            item["status"] = api.status(name, root)
            if with_check:
                item["check"] = api.check(name, root, dataplane_checks=False)
        except (InputError, OSError, PermissionError) as exc:
            item["error"] = str(exc)
        out.append(item)
    return out


def failed_links(plan_dir, fabric) -> dict[str, set[str]]:
    """Links held down in twins booted from this plan folder: {twin name: link names}."""
    from pathlib import Path

    from tokenfab.twin.state import Twin, list_twins, state_root

    root = state_root()
    want = str(Path(plan_dir).resolve())
    out: dict[str, set[str]] = {}
    for name in list_twins(root):
        rec = Twin(root, name).load()
        if rec.get("source") != want:
            continue
        names = set()
        for failure in rec.get("failures", []):
            for row in failure.get("links", []):
                if 0 <= int(row) < len(fabric.links):
                    link = fabric.link(int(row))
                    names.add(f"{link.a}:{link.a_port}--{link.b}:{link.b_port}")
        out[name] = names
    return out
