"""`tokenfab serve` as a real process on a free loopback port, for the browser and load tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(workspace: Path, *extra: str, token: str | None = None) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ)
    if token:
        env["TOKENFAB_TOKEN"] = token
    log = open(workspace.parent / f"serve-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenfab.cli", "serve", str(workspace), "--port", str(port), *extra],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2).read()
                break
            except OSError as err:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (workspace.parent / f"serve-{port}.log").read_text()[-2000:]
                    raise RuntimeError(f"tokenfab serve did not start: {log}") from err
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
