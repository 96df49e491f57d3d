"""Web load with wrk: the token endpoint and a computed assessment against /healthz.

Starts resorb's app under uvicorn (1 worker, then ``--workers`` workers) on
127.0.0.1 over a synthetic demo registry and drives it with ``wrk`` (Debian
package ``wrk``; script ``benchmarks/wrk_report.lua``), one series at a time,
each after a short warm-up:

- ``/healthz``: the peer, the same server, middleware and network path without work;
- ``POST /api/token``, unknown users: a flood of sign-ins with made-up names
  (a new name on every request), the attack the review measured at 11 req/s.
  The throttle is set out of the way for this series (``login_max_failures``
  10^9), so every request takes the full path: throttle lookup, user lookup,
  the padded wait of an unknown user, the failure written to the database;
- ``POST /api/token``, a valid user: argon2id verification (CPU-bound by
  design: about 0.1-0.4 s of one core each, OWASP's recommended cost);
- ``GET /api/patients/{id}/assessment``: computed on every request (the
  assessment cache off), and the same with the cache on.

Prints requests per second, latency percentiles, server CPU seconds per
request, and the ratio of /healthz to each series. Stops by itself.

    python benchmarks/web_load.py [--duration 10] [--connections 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import psutil

HOST = "127.0.0.1"  # loopback only, always
HERE = Path(__file__).parent
PASSWORD = "benchmark-password"
SECRET = "benchmark-only-" + "s" * 40


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _prepare(folder: Path) -> str:
    from resorb.registry import Registry
    from resorb.registry._demo import seed_demo

    url = f"sqlite:///{folder / 'bench.db'}"
    reg = Registry(url)
    reg.upgrade()
    seed_demo(reg)
    reg.add_user("bench", PASSWORD, role="clinician")
    reg.close()
    return url


def _start(
    folder: Path, db_url: str, *, workers: int, cache_size: int, max_failures: int
) -> tuple[subprocess.Popen, str]:
    module = folder / "bench_app.py"
    module.write_text(
        textwrap.dedent(f"""
        from resorb.web import create_app

        def make():
            return create_app({db_url!r}, secret_key={SECRET!r},
                              assessment_cache_size={cache_size},
                              login_max_failures={max_failures})
    """)
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_app:make",
            "--factory",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "3",
        ],
        cwd=folder,
    )
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server did not start")


def _cpu_s(proc: subprocess.Popen) -> float:
    p = psutil.Process(proc.pid)
    total = 0.0
    for q in [p, *p.children(recursive=True)]:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _wrk(
    url: str, env: dict[str, str], *, duration: int, connections: int, threads: int
) -> dict[str, float]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",
        "-s",
        str(HERE / "wrk_report.lua"),
        url,
    ]
    out = subprocess.run(
        cmd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 120,
    ).stdout
    line = [ln for ln in out.splitlines() if ln.startswith("{")][-1]
    r = json.loads(line)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def _series(proc, url, env, args) -> dict[str, float]:
    _wrk(url, env, duration=2, connections=min(4, args.connections), threads=1)  # warm-up
    cpu0 = _cpu_s(proc)
    r = _wrk(url, env, duration=args.duration, connections=args.connections, threads=args.threads)
    r["cpu_ms_per_request"] = (_cpu_s(proc) - cpu0) * 1000 / max(1, r["requests"])
    return r


def _run(folder: Path, db_url: str, args, workers: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    assess = f"/api/patients/{args.patient}/assessment"
    plan = [  # (server cache size, throttle, [(name, path, env)])
        (
            0,
            10**9,
            [
                ("/healthz (peer)", "/healthz", {}),
                ("token, unknown users", "/api/token", {"WRK_FORM_USERS": "1"}),
                (
                    "token, valid user",
                    "/api/token",
                    {"WRK_METHOD": "POST", "WRK_BODY": f"username=bench&password={PASSWORD}"},
                ),
                ("assessment, computed", assess, "AUTH"),
            ],
        ),
        (128, 10**9, [("assessment, cached", assess, "AUTH")]),
    ]
    for cache_size, max_failures, series in plan:
        proc, base = _start(
            folder, db_url, workers=workers, cache_size=cache_size, max_failures=max_failures
        )
        try:
            tok = httpx.post(
                f"{base}/api/token", timeout=60, data={"username": "bench", "password": PASSWORD}
            ).json()
            for name, path, env in series:
                if env == "AUTH":
                    env = {"WRK_AUTH": tok["access_token"]}
                results[name] = _series(proc, base + path, env, args)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.kill()
                proc.kill()
                proc.wait(timeout=30)
    return results


def _print(title: str, results: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(
        f"{'series':<24} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'CPU ms/req':>10} {'/healthz ÷':>10}"
    )
    peer = results["/healthz (peer)"]["rps"]
    for name, r in results.items():
        ratio = f"{peer / r['rps']:>9.1f}x" if r["rps"] > 0 else "      n/a"
        print(
            f"{name:<24} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
            f"{r['p99_ms']:>8.1f} {r['non_2xx']:>8d} {r['cpu_ms_per_request']:>10.2f} "
            f"{ratio}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per series")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn workers, second run")
    ap.add_argument("--patient", type=int, default=3, help="demo patient id to assess")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package wrk)")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s; load average before: {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="resorb-bench-") as tmp:
        folder = Path(tmp)
        db_url = _prepare(folder)
        for workers in (1, args.workers):
            _print(f"uvicorn, {workers} worker(s)", _run(folder, db_url, args, workers))


if __name__ == "__main__":
    main()
