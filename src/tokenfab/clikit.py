"""Shared pieces of the command line, for cli.py and each stage's `commands.py`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
err = Console(stderr=True)
MAX_MESSAGE_CHARS = 2000


def whole(table: Table, *names: str, width: int | None = None) -> Table:
    """`table` laid out so no value is cut short in an 80-column terminal or a pipe (rich would end
    it with an ellipsis). The columns `names` (values a user types back: model, job, variant,
    switch names) are as wide as their longest value, so each stays whole on one line; the other
    columns keep their longest word whole while there is room, then fold onto the next line.
    What is left over goes to the columns that would wrap most; headers wrap."""
    width = width or console.width
    columns = table.columns
    texts = [[Text.from_markup(c).plain if isinstance(c, str) else "" for c in col.cells] for col in columns]
    headers = [str(col.header) for col in columns]
    natural = [max(len(line) for t in [h, *ts] for line in t.splitlines() or [""]) for h, ts in zip(headers, texts)]
    need = [
        max((len(t) if h in names else max((len(w) for w in t.split()), default=1)) for t in ts or [""])
        for h, ts in zip(headers, texts)
    ]
    for col in columns:
        col.overflow = "fold"
    room = width - (3 * len(columns) + 1)  # borders and one space of padding each side
    if sum(natural) <= room:
        return table
    fixed = sum(n for n, h in zip(need, headers) if h in names)
    flexible = [n for n, h in zip(need, headers) if h not in names]
    if fixed + sum(flexible) <= room:
        widths = list(need)
    else:  # one cell each, the rest shared in proportion to what each column's longest word needs beyond it
        spare = max(0, room - fixed - len(flexible))
        extra = max(1, sum(n - 1 for n in flexible))
        widths = [n if h in names else 1 + (n - 1) * spare // extra for n, h in zip(need, headers)]
    # the rest, one cell at a time: first to headers' longest words, then to the most squeezed column
    word = [max(need[k], *(len(w) for w in headers[k].split()), 1) for k in range(len(columns))]
    for goal in (word, natural):
        for _ in range(max(0, room - sum(widths))):
            i = max(range(len(columns)), key=lambda k: (goal[k] - widths[k], -k))
            if goal[i] <= widths[i]:
                break
            widths[i] += 1
    for col, w in zip(columns, widths):
        col.width = w
    total = sum(widths) + 3 * len(columns) + 1
    if total > width:  # the names alone are wider than the terminal: rich would squeeze them too, so the
        table.width = total  # table keeps its width and the terminal wraps the long lines instead
    return table


def show(table: Table, *names: str) -> None:
    """Print `table` through `whole()`; a line wider than the terminal wraps instead of being cut."""
    console.print(whole(table, *names), crop=False)


def fail(message: str, code: int = 2) -> None:
    """Print a one-paragraph error (no traceback) and exit: 2 for bad input, 1 for failed checks.
    A message is never more than a few KB, whatever it quotes."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]} ... ({len(message):,} characters in all)"
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def show_deprecations() -> None:
    """Deprecation notes about a user's file (DeprecatedKeyWarning) as one line each on stderr,
    not as a Python warning with a source line; other warnings as Python shows them."""
    import warnings

    from rich.markup import escape

    from tokenfab.errors import DeprecatedKeyWarning

    python_way = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DeprecatedKeyWarning):
            err.print(f"[yellow]note:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
        else:
            python_way(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def load_plan_or_intent(path: Path):
    """Every later command accepts a plan folder (or its fabric.json) or an intent YAML, which is
    planned by the same code as `tokenfab plan`."""
    from tokenfab.api import load_fabric

    return load_fabric(path)
