"""`plan --diff OLD`: what a new plan adds, changes and removes against an earlier one.

Devices are matched by name and links by their two named ends; a grown factory that keeps every
existing item shows only additions."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenfab.design.model import DEVICE_COLUMNS, LINK_COLUMNS, Fabric


@dataclass
class Diff:
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def churn(self) -> int:
        return sum(len(v) for v in self.removed.values()) + sum(len(v) for v in self.changed.values())


def _devices(f: Fabric) -> dict[str, tuple]:
    cols = [f.devices[c].tolist() for c in DEVICE_COLUMNS]
    return {row[0]: row for row in zip(*cols)}


def _links(f: Fabric) -> dict[str, tuple]:
    names = f.devices["name"]
    cols = [
        names[f.links["a"]].tolist() if c == "a" else names[f.links["b"]].tolist() if c == "b" else f.links[c].tolist()
        for c in LINK_COLUMNS
    ]
    return {f"{r[1]}:{r[2]}--{r[3]}:{r[4]}": r for r in zip(*cols)}


def _compare(old: dict, new: dict, columns: tuple[str, ...], d: Diff, what: str) -> None:
    d.added[what] = sorted(set(new) - set(old))
    d.removed[what] = sorted(set(old) - set(new))
    changed = []
    for key in sorted(set(old) & set(new)):
        if old[key] != new[key]:
            fields = [f"{c}: {a} -> {b}" for c, a, b in zip(columns, old[key], new[key]) if a != b]
            changed.append(f"{key} ({'; '.join(fields)})")
    d.changed[what] = changed


def diff_fabrics(old: Fabric, new: Fabric) -> Diff:
    d = Diff()
    _compare(_devices(old), _devices(new), DEVICE_COLUMNS, d, "devices")
    _compare(_links(old), _links(new), LINK_COLUMNS, d, "links")
    return d


def diff_text(d: Diff) -> str:
    lines = []
    for label, part in (("added", d.added), ("removed", d.removed), ("changed", d.changed)):
        for what, items in part.items():
            lines.append(f"{label} {what}: {len(items)}")
            lines += [f"  {x}" for x in items]
    return "\n".join(lines) + "\n"


def render_diff(console, d: Diff) -> None:
    for label, part in (("added", d.added), ("removed", d.removed), ("changed", d.changed)):
        for what, items in part.items():
            shown = ", ".join(items[:6]) + (" ..." if len(items) > 6 else "")
            console.print(f"{label} {what}: {len(items)}" + (f"  ({shown})" if items else ""), highlight=False)
    console.print(
        "no churn: every existing device, port, address and cable is kept"
        if d.churn == 0
        else f"[yellow]churn: {d.churn} existing items removed or changed[/]"
    )
