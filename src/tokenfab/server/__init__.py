"""REST API and web UI: `tokenfab serve`. Every route calls the same library functions as the CLI."""
