"""`tokenfab serve`: the REST API and web UI on localhost."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(host: str = typer.Option("127.0.0.1", help="address to listen on"),
                  port: int = typer.Option(8800, min=1, max=65535)) -> None:
        """Serve the REST API (/api/...) and the web UI (/)."""
        import uvicorn

        from tokenfab.server.app import app as api

        uvicorn.run(api, host=host, port=port, log_level="info")
