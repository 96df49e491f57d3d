"""Benchmark: virtual-cohort throughput and single-patient latency of the simulator.

Peer, measured in the same run: libroadrunner looping over the SBML that
``resorb model sbml`` exports, with the same parameter sets, output days and
tolerances (relative 1e-5; absolute 1e-7, one value per species). The peer
runs on a sample of patients and is extrapolated per patient; resorb runs the
whole cohort on the compiled batch path (the kernel ``simulate_cohort`` uses:
constants and switched-off states compiled out, ``prange`` over patients on
every core numba sees).

Both wall time and CPU time (``time.process_time``: all threads of this
process) are measured, and each comparison is repeated (``--repeats``); the
CPU-time ratio is the robust figure on a shared machine. Accuracy is measured
against a tight (rtol 1e-10) solution of the same patients, for both.

Also printed: compile time of the kernels (cold cache / warm cache), the peak
memory of a streamed cohort run in a fresh process, single-patient latency,
and the kernel's arithmetic rate against the machine's measured peak for the
same kind of code (scalar double-precision fused multiply-adds, one core).

Usage::

    .venv/bin/python benchmarks/simulate.py [--patients 1000000] [--peer 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

T_DAYS = np.array([0, 14, 30, 60, 90, 120, 180, 270, 365, 540, 730], dtype=float)
RTOL, ATOL = 1e-5, 1e-7


def compile_times() -> tuple[float, float]:
    """Seconds to first result in a fresh process: empty cache, then warm cache."""
    code = (
        "import time,numpy as np;t=time.perf_counter();"
        "from resorb.mechanism import simulate_cohort;"
        "simulate_cohort('extrusion', 10, seed=0);print(time.perf_counter()-t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, RESORB_CACHE_DIR=cache)
        cold = float(subprocess.check_output([sys.executable, "-c", code], env=env))
        warm = float(subprocess.check_output([sys.executable, "-c", code], env=env))
    return cold, warm


def cohort_memory(n: int) -> tuple[float, float]:
    """Peak resident memory (MB) of a fresh process that imports resorb and runs a
    cohort of ``n`` patients, and of one that only imports (the baseline)."""
    run = (
        "import resource;from resorb.mechanism import simulate_cohort;"
        f"r=simulate_cohort('extrusion', {n}, seed=1);r.summary();"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    base = (
        "import resource;from resorb.mechanism import simulate_cohort;"
        "simulate_cohort('extrusion', 10, seed=1);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    peak = float(subprocess.check_output([sys.executable, "-c", run]))
    idle = float(subprocess.check_output([sys.executable, "-c", base]))
    return peak, idle


def peer_roadrunner(model, pmat: np.ndarray, varied) -> tuple[float, float, np.ndarray]:
    """Loop libroadrunner over patients: wall and CPU seconds per patient, V/V0."""
    import roadrunner

    from resorb.mechanism import to_sbml

    rr = roadrunner.RoadRunner(to_sbml("extrusion", model=model))
    species = list(rr.model.getFloatingSpeciesIds())
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = [ATOL] * len(species)
    rr.timeCourseSelections = ["time", "volume_fraction"]
    index = {n: i for i, n in enumerate(model.parameter_names)}
    out = np.empty((pmat.shape[0], T_DAYS.size))
    times = T_DAYS.tolist()
    t0, c0 = time.perf_counter(), time.process_time()
    for i, row in enumerate(pmat):
        for name in varied:
            rr.setValue(name, float(row[index[name]]))
        rr.reset()  # back to t=0; initial assignments use the new parameter values
        res = rr.simulate(times=times)
        out[i] = np.asarray(res)[:, 1]
    n = pmat.shape[0]
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n, out


def rhs_flops(kernel) -> int:
    """Floating-point operations in one evaluation of the kernel's right-hand side
    (binary arithmetic, counted in the generated source; exp counted as one)."""
    import inspect

    src = inspect.getsource(kernel.rhs_reduced.py_func)
    ops = 0
    for node in ast.walk(ast.parse(src)):
        is_exp = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "exp"
        if isinstance(node, ast.BinOp) or is_exp:
            ops += 1
    return ops


def machine_peak_gflops() -> float:
    """Measured double-precision rate of a scalar loop of 8 independent FMA chains
    on one core (the shape of an ODE right-hand side: no SIMD across patients)."""
    import numba

    @numba.njit(fastmath=True)
    def fma_chains(n):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 1.0
        for _ in range(n):
            a0 = a0 * 0.9999999 + 1e-9
            a1 = a1 * 0.9999998 + 1e-9
            a2 = a2 * 0.9999997 + 1e-9
            a3 = a3 * 0.9999996 + 1e-9
            a4 = a4 * 0.9999995 + 1e-9
            a5 = a5 * 0.9999994 + 1e-9
            a6 = a6 * 0.9999993 + 1e-9
            a7 = a7 * 0.9999992 + 1e-9
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7

    fma_chains(10)
    n = 50_000_000
    best = 0.0
    for _ in range(3):
        c = time.process_time()
        fma_chains(n)
        best = max(best, 16 * n / (time.process_time() - c) / 1e9)
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--peer", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args(argv)

    import numba

    from resorb.mechanism import load_model, simulate, simulate_cohort
    from resorb.mechanism._cohort import cohort_kernel, sample_parameters, varied_parameters

    threads = numba.get_num_threads()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, numba threads {threads}, "
        f"Python {platform.python_version()}, numba {numba.__version__}"
    )
    if not args.skip_compile:
        cold, warm = compile_times()
        print(
            f"compile (empty cache, incl. imports): {cold:.1f} s; "
            f"load from cache (incl. imports): {warm:.1f} s"
        )

    model = load_model()
    simulate_cohort("extrusion", 100, seed=0)  # load compiled code in this process
    idx0 = np.array([0], dtype=np.int64)
    base = np.asarray(model.parameter_vector({"exposure": 0.479}))
    k = cohort_kernel(model, base)
    varied = varied_parameters(model)

    def batch(pmat, rtol, atol):
        out = np.empty((pmat.shape[0], T_DAYS.size, 1))
        steps = np.zeros(pmat.shape[0], dtype=np.int64)
        k.solve_batch_lanes_reduced(
            pmat, T_DAYS, np.zeros(0), rtol, atol, 30.0, 1_000_000, idx0, out, steps, 256
        )
        return out[:, :, 0], steps

    pmat = sample_parameters(model, base, "extrusion", args.peer, np.random.default_rng(7))
    tight, _ = batch(pmat, 1e-10, 1e-12)
    errors = {}
    for rtol, atol in ((RTOL, ATOL), (1e-4, 1e-6)):
        ours, _ = batch(pmat, rtol, atol)
        errors[rtol] = float(np.max(np.abs(ours - tight)))
    n_run = max(args.patients // 5, 1000)
    print(
        f"ratios per run: resorb cohort of {n_run:,} patients (rtol {RTOL:g}) and of "
        f"{args.patients:,} (rtol 1e-4, the cohort default) against a libroadrunner "
        f"loop over {args.peer} patients (rtol {RTOL:g}), in the same run"
    )
    for run in range(1, args.repeats + 1):
        rr_wall, rr_cpu, rr_out = peer_roadrunner(model, pmat, varied)
        rr_err = float(np.max(np.abs(rr_out - tight)))
        print(
            f"run {run}: libroadrunner {1 / rr_wall:,.0f} patients/s wall, "
            f"{1 / rr_cpu:,.0f} per CPU-s; max |V/V0 error| {rr_err:.1e}"
        )
        for rtol, atol, n in ((RTOL, ATOL, n_run), (1e-4, 1e-6, args.patients)):
            t0, c0 = time.perf_counter(), time.process_time()
            res = simulate_cohort("extrusion", n, seed=1, t_days=T_DAYS, rtol=rtol, atol=atol)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(
                f"  resorb rtol {rtol:g}: {n / wall:,.0f} patients/s wall, {n / cpu:,.0f} per "
                f"CPU-s ({res.solver['mean_steps']:.0f} steps/patient, max |V/V0 error| "
                f"{errors[rtol]:.1e}); ratio wall {n / wall * rr_wall:.0f}x, "
                f"per CPU-second {n / cpu * rr_cpu:.0f}x"
            )

    # --- arithmetic rate against the machine's measured peak -----------------------
    one = sample_parameters(model, base, "extrusion", 20_000, np.random.default_rng(3))
    numba.set_num_threads(1)
    c0 = time.process_time()
    _, steps = batch(one, 1e-4, 1e-6)
    cpu1 = time.process_time() - c0
    numba.set_num_threads(threads)
    flops = rhs_flops(k)
    # 6 right-hand sides per attempted step (FSAL) plus ~8 n updates per stage
    n_state = len(model.states) - len(k.DEAD_STATES)
    per_step = 6 * flops + 7 * 8 * n_state
    rate = float(steps.sum()) * per_step / cpu1 / 1e9
    peak = machine_peak_gflops()
    print(
        f"kernel arithmetic (1 thread, 20,000 patients): {steps.sum() / cpu1 / 1e6:.2f} M "
        f"steps/CPU-s x ~{per_step} flops/step ({flops} per right-hand side, {n_state} "
        f"states) = {rate:.2f} GFLOP/s; measured scalar FMA peak of one core "
        f"{peak:.2f} GFLOP/s -> {100 * rate / peak:.0f} % of it"
    )

    if not args.skip_memory:
        peak_mb, idle_mb = cohort_memory(args.patients)
        print(
            f"peak memory, fresh process: {peak_mb:.0f} MB for {args.patients:,} patients "
            f"(imports and compiled code alone: {idle_mb:.0f} MB)"
        )

    # --- single patient latency (daily output, 730 days) ---------------------
    def best(fn, n=30):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    lat_batch = best(lambda: simulate("extrusion"))
    lat_ref = best(lambda: simulate("extrusion", method="reference"), n=10)
    import roadrunner

    from resorb.mechanism import to_sbml

    rr = roadrunner.RoadRunner(to_sbml("extrusion"))

    def rr_once():
        rr.reset()
        rr.simulate(0, 730, 731)

    lat_rr = best(rr_once)
    print(
        f"single patient, 731 daily outputs (median): resorb simulate (default batch path, "
        f"rtol 1e-8) {lat_batch * 1e3:.2f} ms, SciPy reference path {lat_ref * 1e3:.1f} ms, "
        f"libroadrunner {lat_rr * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
