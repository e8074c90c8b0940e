"""One syntax names devices and links on every command line:

leaf-r1-1                       a device
leaf-r1-1:Ethernet0             a port, and the link cabled to it
leaf-r1-1--spine-3              every link between two devices (parallel links included)
leaf-r1-1:Ethernet256--spine-3:Ethernet0   one link, both ends named
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tokenfab.design.model import Fabric
from tokenfab.errors import InputError


@dataclass(frozen=True)
class Ref:
    text: str
    devices: tuple[str, ...]  # the device, or both ends
    links: tuple[int, ...]  # link rows in fabric.links (empty for a device)

    @property
    def is_device(self) -> bool:
        return not self.links


def _dev(fabric: Fabric, name: str, text: str) -> int:
    if name not in fabric.index:
        close = [n for n in fabric.index if n.startswith(name.split("-")[0])][:5]
        hint = f"; devices look like {', '.join(close)}" if close else ""
        raise InputError(f"{text!r}: no device {name!r} in fabric {fabric.intent.name!r}{hint}")
    return fabric.index[name]


def _port_links(fabric: Fabric, dev: int, port: str) -> np.ndarray:
    L = fabric.links
    return np.flatnonzero(((L["a"] == dev) & (L["a_port"] == port)) | ((L["b"] == dev) & (L["b_port"] == port)))


def resolve(fabric: Fabric, text: str) -> Ref:
    """Resolve a device or link reference, or raise InputError saying what was expected."""
    text = text.strip()
    L = fabric.links
    if "--" in text:
        left, right = text.split("--", 1)
        ends = []
        for side in (left, right):
            name, _, port = side.partition(":")
            ends.append((_dev(fabric, name, text), port))
        (a, pa), (b, pb) = ends
        m = ((L["a"] == a) & (L["b"] == b)) | ((L["a"] == b) & (L["b"] == a))
        if pa:
            m &= ((L["a"] == a) & (L["a_port"] == pa)) | ((L["b"] == a) & (L["b_port"] == pa))
        if pb:
            m &= ((L["a"] == b) & (L["a_port"] == pb)) | ((L["b"] == b) & (L["b_port"] == pb))
        rows = np.flatnonzero(m)
        if not len(rows):
            raise InputError(f"{text!r}: no link between {left} and {right} in the plan")
        names = fabric.devices["name"]
        return Ref(text, (names[a], names[b]), tuple(int(r) for r in rows))
    if ":" in text:
        name, port = text.split(":", 1)
        dev = _dev(fabric, name, text)
        rows = _port_links(fabric, dev, port)
        if not len(rows):
            raise InputError(f"{text!r}: {name} has no cabled port {port!r}")
        r = int(rows[0])
        names = fabric.devices["name"]
        return Ref(text, (names[L["a"][r]], names[L["b"][r]]), (r,))
    _dev(fabric, text, text)
    return Ref(text, (text,), ())
