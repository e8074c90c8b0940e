"""Shared pieces of the command line, for cli.py and each stage's `commands.py`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)
MAX_MESSAGE_CHARS = 2000


def fail(message: str, code: int = 2) -> None:
    """Print a one-paragraph error (no traceback) and exit: 2 for bad input, 1 for failed checks.
    A message is never more than a few KB, whatever it quotes."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]} ... ({len(message):,} characters in all)"
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_plan_or_intent(path: Path):
    """Every later command accepts a plan folder (or its fabric.json) or an intent YAML, which is
    planned by the same code as `tokenfab plan`."""
    from tokenfab import load_intent, plan
    from tokenfab.design.model import Fabric
    from tokenfab.errors import InputError

    if path.is_dir() or path.suffix == ".json":
        return Fabric.load(path)
    if not path.exists():
        raise InputError(f"{path}: no such intent file or plan folder")
    return plan(load_intent(path))
