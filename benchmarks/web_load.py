"""Load on the web assessment endpoint, compared with /healthz in the same run.

Starts ``resorb``'s app with uvicorn in a child process on 127.0.0.1 (a free
port, loopback only) over a synthetic demo registry, then sends a bounded
number of requests from a thread pool of httpx clients: first to ``/healthz``
(the peer: the same server, middleware and network path without any work),
then to ``GET /api/patients/{id}/assessment`` (builds the case from the
registry and runs ``resorb.reports.assess_case``), once on a server without
the assessment cache (every request computes) and once with it (a repeated
view of an unchanged record). Prints requests per second
and latency percentiles of both and their ratio. Stops by itself (request
count and a time limit per endpoint).

    python benchmarks/web_load.py [--concurrency 8] [--requests 200] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

HOST = "127.0.0.1"  # loopback only, always


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _prepare(db_url: str, password: str) -> None:
    from resorb.registry import Registry
    from resorb.registry._demo import seed_demo

    reg = Registry(db_url)
    reg.upgrade()
    seed_demo(reg)
    reg.add_user("bench", password, role="clinician")
    reg.close()


def _start_server(db_url: str, port: int, cache_size: int) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import uvicorn
        from resorb.web import create_app
        app = create_app({db_url!r}, secret_key="benchmark-only-" + "s" * 40,
                         assessment_cache_size={cache_size})
        uvicorn.run(app, host={HOST!r}, port={port}, log_level="warning")
    """)
    return subprocess.Popen([sys.executable, "-c", code])


def _wait_ready(base: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _load(url: str, headers: dict[str, str], *, concurrency: int, n_requests: int,
          max_seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(n_requests))
    stop_at = time.perf_counter() + max_seconds

    def worker() -> None:
        nonlocal errors
        with httpx.Client(headers=headers, timeout=60.0) as client:
            while time.perf_counter() < stop_at:
                with lock:
                    if next(counter, None) is None:
                        return
                t0 = time.perf_counter()
                r = client.get(url)
                dt_s = time.perf_counter() - t0
                with lock:
                    if r.status_code == 200:
                        latencies.append(dt_s)
                    else:
                        errors += 1

    t_start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for f in [pool.submit(worker) for _ in range(concurrency)]:
            f.result()
    wall_s = time.perf_counter() - t_start
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99
    return {"ok": len(lat), "errors": errors, "wall_s": wall_s, "rps": len(lat) / wall_s,
            "p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000, "max_ms": lat[-1] * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200, help="per endpoint")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="per endpoint")
    ap.add_argument("--patient", type=int, default=3, help="demo patient id to assess")
    args = ap.parse_args()

    password = "benchmark-password"
    with tempfile.TemporaryDirectory(prefix="resorb-bench-") as tmp:
        db_url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        _prepare(db_url, password)
        opts = {"concurrency": args.concurrency, "n_requests": args.requests,
                "max_seconds": args.max_seconds}
        results = {}
        # Server 1 without the assessment cache: every request computes the assessment.
        # Server 2 with the default cache: a repeated view of an unchanged record.
        for cache_size, label in ((0, "computed"), (128, "cached")):
            port = _free_port()
            base = f"http://{HOST}:{port}"
            proc = _start_server(db_url, port, cache_size)
            try:
                _wait_ready(base)
                tok = httpx.post(f"{base}/api/token",
                                 data={"username": "bench", "password": password}).json()
                h = {"Authorization": f"Bearer {tok['access_token']}"}
                assess_url = f"{base}/api/patients/{args.patient}/assessment"
                for _ in range(3):  # warm-up: imports, evidence base
                    httpx.get(assess_url, headers=h, timeout=60).raise_for_status()
                    httpx.get(f"{base}/healthz", timeout=10).raise_for_status()
                if cache_size == 0:
                    results["/healthz (peer)"] = _load(f"{base}/healthz", {}, **opts)
                results[f"assessment, {label}"] = _load(assess_url, h, **opts)
            finally:
                proc.terminate()
                proc.wait(timeout=20)

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; uvicorn 1 worker; concurrency {args.concurrency}")
    for name, r in results.items():
        print(f"{name:22s} {r['ok']:5d} ok {r['errors']:3d} errors in {r['wall_s']:6.1f} s: "
              f"{r['rps']:8.1f} req/s, p50 {r['p50_ms']:7.1f} ms, p95 {r['p95_ms']:7.1f} ms, "
              f"max {r['max_ms']:7.1f} ms")
    peer = results["/healthz (peer)"]
    for name, r in results.items():
        if name != "/healthz (peer)":
            print(f"ratio healthz / {name}: throughput {peer['rps'] / r['rps']:.1f}x, "
                  f"p95 latency {r['p95_ms'] / peer['p95_ms']:.1f}x")


if __name__ == "__main__":
    main()
