"""`tokenfab serve [WORKSPACE]`: the web app over a workspace of designs."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        workspace: Path = typer.Argument(Path("tokenfab-workspace"), help="folder of designs and runs (created when missing)"),
        host: str = typer.Option("127.0.0.1", help="address to listen on"),
        port: int = typer.Option(8800, min=1, max=65535),
        token: str = typer.Option(
            None,
            "--token",
            envvar="TOKENFAB_TOKEN",
            help="required on any address but loopback: clients send it as 'Authorization: Bearer TOKEN'",
        ),
        max_body_mb: float = typer.Option(4.0, "--max-body-mb", min=0.01, max=1024, help="largest request body accepted"),
        workers: int = typer.Option(2, "--workers", min=1, max=64, help="background jobs run at once (worker processes)"),
    ) -> None:
        """Serve the web app (/) and its REST API (/api/..., documented at /docs) over WORKSPACE."""
        import uvicorn

        from tokenfab.clikit import console, fail
        from tokenfab.server.app import create_app
        from tokenfab.server.security import is_loopback

        if not is_loopback(host) and not token:
            fail(
                f"--host {host} is reachable from other machines: set a token with --token or TOKENFAB_TOKEN "
                "(or serve on 127.0.0.1)"
            )
        if workspace.exists() and not workspace.is_dir():
            fail(f"workspace {workspace} exists and is not a folder")
        try:
            api = create_app(workspace, token=token, max_body_bytes=int(max_body_mb * 1024 * 1024), workers=workers)
        except OSError as exc:
            fail(f"cannot use workspace {workspace}: {exc.strerror}")
        where = f"http://{host}:{port}/" + (f"?token={token}" if token and os.environ.get("TOKENFAB_SHOW_TOKEN") else "")
        console.print(f"tokenfab serve: workspace [bold]{workspace}[/], open {where}")
        uvicorn.run(api, host=host, port=port, log_level="warning")
