"""The open catalog's cost: reading and checking a large user catalog file, and a lookup in the
catalog in force (every configure/sim/factory lookup goes through it).

Builds a user file of N GPUs + N servers + N models (default 2,000 each) in a temporary folder,
then prints: read + check time, merge time, and the time per `load_catalog()` lookup with that
file active. Target: a 6,000-entry file checked in under 5 s; a lookup under 10 us.

    python benchmarks/catalog_files.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from tokenfab.catalog import build_catalog, load_catalog, use_catalog
from tokenfab.catalog.files import read_layers


def user_file(folder: Path, n: int) -> Path:
    gpus = [
        {
            "model": f"GPU-{i}",
            "bf16_dense_tflops": 300 + i % 700,
            "hbm_gbytes": 80,
            "hbm_tbytes_per_s": 3.0,
            "nvlink_gbytes_per_s_per_direction": 450,
            "tdp_w": 700,
            "sources": {"specs": "estimate: benchmark"},
        }
        for i in range(n)
    ]
    servers = [{"model": f"SRV-{i}", "gpus": 8, "gpu_model": f"GPU-{i}", "power_w": 10000} for i in range(n)]
    models = [
        {
            "name": f"model-{i}",
            "layers": 32,
            "hidden": 4096,
            "ffn_hidden": 14336,
            "vocab": 128256,
            "attention": {"heads": 32, "kv_heads": 8},
        }
        for i in range(n)
    ]
    path = folder / "big.yaml"
    path.write_text(yaml.safe_dump({"gpus": gpus, "servers": servers, "models": models}, sort_keys=False))
    return path


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = user_file(Path(tmp), n)
        t0 = time.perf_counter()
        layers = read_layers([path])
        t1 = time.perf_counter()
        cat = build_catalog(layers)
        t2 = time.perf_counter()
        with use_catalog(layers):
            k = 100_000
            t3 = time.perf_counter()
            for _ in range(k):
                load_catalog()
            t4 = time.perf_counter()
        size_mb = path.stat().st_size / 1e6
    print(
        f"user catalog of {3 * n:,} entries ({size_mb:.1f} MB): "
        f"read + check {t1 - t0:.2f} s, merge {t2 - t1:.2f} s ({len(cat.gpus):,} GPUs, {len(cat.models):,} models)"
    )
    print(f"load_catalog() with the file active: {(t4 - t3) / k * 1e6:.2f} us per lookup")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
