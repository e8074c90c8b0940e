"""A real two-process Ray cluster on this machine (head + one worker node), for tests and benchmarks.

Both are `ray start --block` in sessions of their own, every port chosen free (other Ray clusters
may run here), so stopping kills exactly the processes started here: each session's process group."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tokenfab

SRC = str(Path(tokenfab.__file__).resolve().parents[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports() -> list[str]:
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]


class LocalRayCluster:
    def __init__(self, head_cpus: int = 1, worker_cpus: int = 1):
        self.head_cpus, self.worker_cpus = head_cpus, worker_cpus
        self.procs: list[subprocess.Popen] = []
        self.temp = tempfile.mkdtemp(prefix="tfray", dir="/tmp")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.worker_node_id = ""
        self.head_node_id = ""
        # Ray >= 2.59 authenticates local clusters with a token: this cluster gets its own, given to its
        # processes and to the drivers started with driver_env()
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_USAGE_STATS_ENABLED": "0"}

    def _start(self, args: list[str]) -> None:
        ray = str(Path(sys.executable).with_name("ray"))
        env = self.driver_env()
        log = open(Path(self.temp) / f"start-{len(self.procs)}.log", "wb")
        self.procs.append(
            subprocess.Popen(
                [ray, "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )

    def start(self, timeout_s: float = 120.0) -> LocalRayCluster:
        try:
            return self._up(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _up(self, timeout_s: float) -> LocalRayCluster:
        self._start(
            [
                "--head",
                f"--port={self.port}",
                f"--num-cpus={self.head_cpus}",
                "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
                f"--temp-dir={self.temp}",
                *_ports(),
            ]
        )
        deadline = time.monotonic() + timeout_s
        while not _listening(self.port):
            self._check(deadline)
        self._start([f"--address={self.address}", f"--num-cpus={self.worker_cpus}", *_ports()])
        # ask the cluster for its nodes from a driver process of its own (Ray reads its token when imported)
        probe = subprocess.Popen(
            [sys.executable, "-c", _PROBE, self.address, str(timeout_s)],
            env=self.driver_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        while probe.poll() is None:
            try:
                self._check(deadline)
            except BaseException:
                probe.kill()
                raise
        nodes = json.loads(probe.stdout.read() or "[]")
        if len(nodes) < 2:
            raise RuntimeError(f"Ray cluster at {self.address} has {len(nodes)} live node(s), expected 2")
        for node_id, head in nodes:
            if head:
                self.head_node_id = node_id
            else:
                self.worker_node_id = node_id
        return self

    def driver_env(self) -> dict[str, str]:
        """Environment for a driver process (e.g. `tokenfab sweep --ray ADDRESS`) of this cluster."""
        return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH", "")) if p), **self.env}

    def _check(self, deadline: float) -> None:
        for p in self.procs:
            if p.poll() is not None:
                logs = "\n".join(f.read_text()[-3000:] for f in sorted(Path(self.temp).glob("start-*.log")))
                self.stop()
                raise RuntimeError(f"ray start exited with {p.returncode}:\n{logs}")
        if time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"Ray cluster not up in time; logs in {self.temp}")
        time.sleep(0.3)

    def stop(self) -> None:
        for p in reversed(self.procs):
            for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # the session's other processes (raylet, GCS, workers) share its process group
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.procs.clear()
        shutil.rmtree(self.temp, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


_PROBE = """
import json, sys, time
import ray
ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False, configure_logging=False)
deadline = time.monotonic() + float(sys.argv[2])
while True:
    alive = [n for n in ray.nodes() if n["Alive"]]
    if len(alive) >= 2 or time.monotonic() > deadline:
        break
    time.sleep(0.3)
print(json.dumps([[n["NodeID"], "node:__internal_head__" in n["Resources"]] for n in alive]))
"""
