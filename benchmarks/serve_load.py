"""Load test of the web app with locust: 50 users browse designs and start small simulations.

Loopback only, bounded in users and time. Prints p50/p95 latency of reads, requests per second,
5xx count (must be 0), and the server's memory at the start and the end (flat is the target).
Target: p95 of reads under 1 s.

Run: .venv/bin/python benchmarks/serve_load.py [--users 50] [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.serve_paint import post, server_rss_mib  # noqa: E402
from tests.web_server import running_server  # noqa: E402

DESIGNS = ["ld-a", "ld-b", "ld-c"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    if not (1 <= args.users <= 200 and 0 < args.minutes <= 30):
        sys.exit("--users 1..200 and --minutes up to 30 (a bounded load test)")

    import gevent  # noqa: F401  (locust's runtime)
    from locust import HttpUser, between, task
    from locust.env import Environment

    ws = Path(tempfile.mkdtemp(prefix="tokenfab-load-")) / "ws"
    with running_server(ws, "--workers", "2") as url:
        for i, name in enumerate(DESIGNS):
            post(
                url + "/api/designs",
                {
                    "name": name,
                    "intent_yaml": f"name: {name}\ncluster: {{servers: {64 * (i + 1)}, gpus_per_server: 8}}\n"
                    "fabric: {architecture: rail-optimized}\n",
                },
            )

        class Browser(HttpUser):
            host = url
            wait_time = between(0.5, 2.0)

            @task(4)
            def designs(self):
                self.client.get("/api/designs", name="GET designs")

            @task(4)
            def design(self):
                self.client.get(f"/api/designs/{random.choice(DESIGNS)}", name="GET design")

            @task(3)
            def topology(self):
                self.client.get(f"/api/designs/{random.choice(DESIGNS)}/topology?expand=su-1", name="GET topology")

            @task(2)
            def bom(self):
                self.client.get(f"/api/designs/{random.choice(DESIGNS)}/tables/bom", name="GET bom")

            @task(2)
            def device(self):
                self.client.get(f"/api/designs/{random.choice(DESIGNS)}/devices/leaf-r1-1", name="GET device")

            @task(1)
            def simulate(self):
                with self.client.post(
                    f"/api/designs/{random.choice(DESIGNS)}/simulate",
                    name="POST simulate",
                    json={"maxbytes": "16M", "routings": ["ecmp"]},
                    catch_response=True,
                ) as r:
                    if r.status_code in (202, 429):  # 429: the job queue is full, as designed
                        r.success()

            @task(2)
            def jobs(self):
                self.client.get("/api/jobs", name="GET jobs")

        env = Environment(user_classes=[Browser])
        runner = env.create_local_runner()
        rss = [server_rss_mib(url)]
        runner.start(args.users, spawn_rate=10)
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(15, max(0.0, end - time.monotonic())))
            rss.append(server_rss_mib(url))
        runner.quit()
        stats = env.stats
        reads = [s for (name, method), s in stats.entries.items() if method == "GET"]
        read_total = sum(s.num_requests for s in reads)
        fivexx = sum(n for err, n in ((e.error, e.occurrences) for e in stats.errors.values()) if "50" in str(err))
        agg = stats.total
        with urllib.request.urlopen(url + "/api/jobs", timeout=30) as r:
            jobs = json.loads(r.read())
        print(
            f"users {args.users}, {args.minutes:g} min, {agg.num_requests:,} requests ({agg.total_rps:.1f}/s), "
            f"{agg.num_failures} failures, {fivexx} 5xx"
        )
        p95 = max(s.get_response_time_percentile(0.95) for s in reads) if reads else float("nan")
        print(
            f"reads: {read_total:,}; p50 {stats.total.get_response_time_percentile(0.5):.0f} ms; "
            f"worst p95 of a read endpoint {p95:.0f} ms (target < 1000 ms)"
        )
        for (name, _method), s in sorted(stats.entries.items()):
            print(
                f"  {name:<16} n={s.num_requests:<6} p50={s.get_response_time_percentile(0.5):>5.0f} ms  "
                f"p95={s.get_response_time_percentile(0.95):>5.0f} ms  failures={s.num_failures}"
            )
        print(f"simulation jobs seen: {len(jobs)} (newest 200), done: {sum(j['state'] == 'done' for j in jobs)}")
        print(f"server memory: start {rss[0]:.0f} MiB, end {rss[-1]:.0f} MiB, max {max(rss):.0f} MiB")


if __name__ == "__main__":
    main()
