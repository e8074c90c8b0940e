"""`tokenfab doctor [FOLDER ...] [--clean]`."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_cmd)


def doctor_cmd(
    folders: list[Path] = typer.Argument(None, help="folders that hold output folders (default: the current folder)"),
    clean: bool = typer.Option(False, "--clean", help="remove what is stale (a set-aside previous version is put back)"),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="twin state root (default /run/tokenfab/twins or $TOKENFAB_TWIN_STATE)"
    ),
) -> None:
    """Report temporary folders of killed runs and orphaned twin state; --clean removes them.
    Exit 0 when nothing is left over (or all was cleaned), 1 when leftovers are reported."""
    from tokenfab.clikit import console, fail
    from tokenfab.doctor import doctor
    from tokenfab.errors import InputError

    folders = list(folders or [Path(".")])
    try:
        for f in folders:
            if not f.is_dir():
                raise InputError(f"{f}: not a folder")
        found = doctor(folders, state_dir, clean)
    except InputError as exc:
        fail(str(exc))
        return
    if not found:
        console.print("nothing left over: no temporary output folders of killed runs, no orphaned twin state")
        return
    console.print(f"left over by interrupted runs ({len(found)}):")
    for f in found:  # one line each: paths stay whole, whatever the terminal's width
        action = f"[{f.action}] " if f.action else ""
        console.print(
            f"  {action}{f.path} ({f.size_bytes / 2**20:,.1f} MB): {f.what}", highlight=False, markup=False, soft_wrap=True
        )
    if not clean:
        console.print("run `tokenfab doctor --clean` to remove them")
        raise typer.Exit(1)
