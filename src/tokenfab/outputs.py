"""The output folder: written whole or not at all.

Every stage writes into a temporary sibling folder and renames it into place at the end, so a
failure (or Ctrl-C) leaves nothing half-written. An existing folder is refused unless forced.

Layout (each stage documents what it adds):
    out/fabric.json  fabric.schema.json  bom.csv  cabling.csv  ip-plan.csv  topology.svg  summary.txt
    configure (adds to a plan folder, or writes fabric.json itself when given an intent):
    out/configs/<switch>/config_db.json  frr.conf      SONiC CONFIG_DB; FRR rendered from it
    out/configs/buffers.csv                            lossless headroom per port and its source
    out/hosts/<server>/netplan.yaml  roce.sh           NIC addressing per rail; host RoCE settings
    out/ztp/<switch>/ztp.json  out/ztp/dhcpd.conf      ZTP bundle (+ install-frr.sh with p31)
    out/export/containerlab.clab.yml  netbox-{devices,interfaces,cables}.csv
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tokenfab.errors import InputError


@contextmanager
def output_dir(path: str | Path, force: bool = False, keep: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `path`.

    keep=True starts from a copy of the existing folder (a later stage adding to a plan folder)."""
    path = Path(path)
    if path.exists() and not (force or keep):
        raise InputError(f"output folder {path} exists; pass --force to replace it")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} exists and is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        if keep and path.exists():
            shutil.copytree(path, tmp, dirs_exist_ok=True)
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            path.rename(old)
        tmp.rename(path)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
