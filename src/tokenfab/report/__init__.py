"""Plan outputs: the files `tokenfab plan` writes (see outputs.py for the folder layout)."""

from __future__ import annotations

import json
from pathlib import Path

from tokenfab.design.model import Fabric, json_schema
from tokenfab.outputs import output_dir

PLAN_FILES = ("fabric.json", "fabric.schema.json", "bom.csv", "cabling.csv", "ip-plan.csv", "topology.svg")


def plan_file_names(with_diff: bool = False) -> list[str]:
    """The files `write_plan` writes, in its order."""
    return list(PLAN_FILES) + (["diff.txt"] if with_diff else [])


def plan_files(fabric: Fabric, old: Fabric | None = None) -> dict[str, str]:
    from tokenfab.report import tables
    from tokenfab.report.diagram import topology_svg

    files = {
        "fabric.json": fabric.dumps(),
        "fabric.schema.json": json.dumps(json_schema(), indent=2, sort_keys=True) + "\n",
        "bom.csv": tables.bom_csv(fabric),
        "cabling.csv": tables.cabling_csv(fabric),
        "ip-plan.csv": tables.ip_plan_csv(fabric),
        "topology.svg": topology_svg(fabric),
    }
    if old is not None:
        from tokenfab.report.diff import diff_fabrics, diff_text

        files["diff.txt"] = diff_text(diff_fabrics(old, fabric))
    assert list(files) == plan_file_names(old is not None)
    return files


def write_plan(fabric: Fabric, out: str | Path, force: bool = False, old: Fabric | None = None) -> list[str]:
    files = plan_files(fabric, old)
    with output_dir(out, force=force) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
    return list(files)
