"""The web app's workspace: a folder of designs and runs, the same folders the CLI writes.

    WORKSPACE/designs/<design>/intent.yaml        the intent as the user typed it
    WORKSPACE/designs/<design>/plan/              `tokenfab plan` output; `configure` adds configs/ hosts/ ztp/ export/
    WORKSPACE/designs/<design>/plan/validation.json   the last `validate --json` result
    WORKSPACE/designs/<design>/runs/<run>/        one simulate or factory run: run.json (inputs), its outputs
    WORKSPACE/sweeps/<sweep>/                     `tokenfab sweep -o` folders
    WORKSPACE/.jobs/<job>.json                    background jobs (see jobs.py)

A plan folder made on the CLI opens as a design when copied (or planned) to designs/<name>/plan, and
a design made in the app is an ordinary plan folder for the CLI. Nothing here is kept in memory
only, so restarting the server loses nothing.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tokenfab.errors import InputError
from tokenfab.fileio import write_atomic

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_name(name: str, what: str = "design") -> str:
    if not NAME_RE.match(name or ""):
        raise InputError(
            f"{name[:80]!r} is not a {what} name: use 1-63 lower-case letters, digits and '-', starting with a letter or digit",
            "name",
        )
    return name


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        for sub in ("designs", "sweeps", ".jobs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- designs ------------------------------------------------------------------------------
    def design_dir(self, name: str) -> Path:
        return self.root / "designs" / check_name(name)

    def plan_dir(self, name: str) -> Path:
        return self.design_dir(name) / "plan"

    def designs(self) -> list[str]:
        base = self.root / "designs"
        return sorted(
            p.name
            for p in base.iterdir()
            if p.is_dir() and NAME_RE.match(p.name) and ((p / "intent.yaml").exists() or (p / "plan" / "fabric.json").exists())
        )

    def intent_text(self, name: str) -> str | None:
        path = self.design_dir(name) / "intent.yaml"
        if path.exists():
            return path.read_text(errors="replace")
        fabric = self.plan_dir(name) / "fabric.json"
        if fabric.exists():  # a plan folder made on the CLI: its intent is inside fabric.json
            obj = json.loads(fabric.read_text())
            return yaml.safe_dump(obj.get("intent", {}), sort_keys=False)
        return None

    def save_intent(self, name: str, text: str) -> None:
        d = self.design_dir(name)
        d.mkdir(parents=True, exist_ok=True)
        write_atomic(d / "intent.yaml", text)

    def save_planned(self, name: str, intent_json: str, resolved_json: str) -> None:
        """The intent a plan was made from (as asked, before the design search resolved it), with the
        resolved intent its fabric.json holds: a later stage rewriting the plan folder keeps the pair."""
        write_atomic(
            self.design_dir(name) / ".planned-intent.json", json.dumps({"resolved": resolved_json, "intent": intent_json})
        )

    def planned(self, name: str, resolved_json: str) -> str | None:
        """The intent as asked for the plan whose resolved intent is `resolved_json`, if recorded."""
        try:
            rec = json.loads((self.design_dir(name) / ".planned-intent.json").read_text())
        except (OSError, ValueError):
            return None
        return rec["intent"] if rec.get("resolved") == resolved_json else None

    def delete(self, name: str) -> None:
        d = self.design_dir(name)
        if not d.exists():
            raise KeyError(name)
        shutil.rmtree(d)

    # -- runs ---------------------------------------------------------------------------------
    def runs_dir(self, design: str) -> Path:
        return self.design_dir(design) / "runs"

    def run_dir(self, design: str, run: str) -> Path:
        return self.runs_dir(design) / check_name(run, "run")

    def new_run(self, design: str, kind: str, params: dict[str, Any]) -> str:
        """A new run folder `<kind>-<n>` with its run.json; mkdir decides between two requests racing for one n."""
        import time

        base = self.runs_dir(design)
        base.mkdir(parents=True, exist_ok=True)
        n = sum(1 for p in base.iterdir() if p.name.startswith(f"{kind}-")) + 1
        while True:
            run = f"{kind}-{n}"
            try:
                (base / run).mkdir()
                break
            except FileExistsError:
                n += 1
        write_atomic(
            base / run / "run.json",
            json.dumps({"run": run, "kind": kind, "params": params, "created": time.time()}, indent=1, sort_keys=True),
        )
        return run

    def runs(self, design: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest `limit` runs, oldest first (a run folder being created is skipped)."""
        base = self.runs_dir(design)
        if not base.exists():
            return []
        out = []
        for meta in sorted(base.glob("*/run.json"), key=lambda p: p.stat().st_mtime_ns)[-limit:]:
            try:
                out.append(json.loads(meta.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def sweeps(self) -> list[str]:
        return sorted(p.name for p in (self.root / "sweeps").iterdir() if p.is_dir() and NAME_RE.match(p.name))

    def file(self, base: Path, relative: str) -> Path:
        """`relative` inside `base`, refusing anything that would escape it (.., absolute, symlinks out)."""
        if not relative or relative.startswith("/") or "\\" in relative or "\x00" in relative:
            raise InputError(f"{relative[:80]!r} is not a file name inside the design", "path")
        path = (base / relative).resolve()
        if not path.is_relative_to(base.resolve()) or not path.is_file():
            raise FileNotFoundError(relative)
        return path
