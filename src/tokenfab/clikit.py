"""Shared pieces of the command line, for cli.py and each stage's `commands.py`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print a one-paragraph error (no traceback) and exit: 2 for bad input, 1 for failed checks."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_plan_or_intent(path: Path):
    """Every later command accepts a plan folder (or its fabric.json) or an intent YAML, which is
    planned by the same code as `tokenfab plan`."""
    from tokenfab.api import load_fabric

    return load_fabric(path)
