"""Benchmark: virtual-cohort throughput and single-patient latency of the simulator.

Peer, measured in the same run: libroadrunner looping over the SBML that
``resorb model sbml`` exports, with the same parameter sets, output days and
tolerances (relative 1e-5; absolute 1e-7, one value per species). The peer
runs on a sample of patients and is extrapolated per patient; resorb runs the
whole cohort (default one million patients over 730 days) on the compiled
batch path, ``prange`` over patients on every core numba sees.

Compile time of the numba kernels is measured separately (cold: an empty
kernel cache; warm: loading the cached machine code) and kept out of the
throughput figures.

Usage::

    .venv/bin/python benchmarks/simulate.py [--patients 1000000] [--peer 300]
"""

from __future__ import annotations

import argparse
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


def varied_parameters(model) -> tuple[str, ...]:
    """Parameters that differ between virtual patients: exposure (Beta per morphology)
    and every parameter under ``variability`` in data/model.yaml."""
    names = ["exposure"]
    for spec in model.variability.values():
        names += [p for p in spec["parameters"] if p not in names]
    return tuple(names)


def compile_times() -> tuple[float, float]:
    """Seconds to first result in a fresh process: empty cache, then warm cache."""
    code = ("import time,numpy as np;t=time.perf_counter();"
            "from resorb.mechanism import simulate_cohort;"
            "simulate_cohort('extrusion', 10, seed=0);print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, RESORB_CACHE_DIR=cache)
        cold = float(subprocess.check_output([sys.executable, "-c", code], env=env))
        warm = float(subprocess.check_output([sys.executable, "-c", code], env=env))
    return cold, warm


def peer_roadrunner(model, pmat: np.ndarray) -> tuple[float, np.ndarray]:
    """Loop libroadrunner over patients; seconds per patient and V/V0 at T_DAYS."""
    import roadrunner

    from resorb.mechanism import to_sbml

    rr = roadrunner.RoadRunner(to_sbml("extrusion", model=model))
    species = list(rr.model.getFloatingSpeciesIds())
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = [ATOL] * len(species)
    rr.timeCourseSelections = ["time", "volume_fraction"]
    index = {n: i for i, n in enumerate(model.parameter_names)}
    out = np.empty((pmat.shape[0], T_DAYS.size))
    t0 = time.perf_counter()
    times = T_DAYS.tolist()
    varied = varied_parameters(model)
    for i, row in enumerate(pmat):
        for name in varied:
            rr.setValue(name, float(row[index[name]]))
        rr.reset()  # back to t=0; initial assignments use the new parameter values
        res = rr.simulate(times=times)
        out[i] = np.asarray(res)[:, 1]
    return (time.perf_counter() - t0) / pmat.shape[0], out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--peer", type=int, default=300)
    ap.add_argument("--skip-compile", action="store_true")
    args = ap.parse_args(argv)

    import numba

    from resorb.mechanism import load_model, simulate, simulate_cohort
    from resorb.mechanism._codegen import inactive_parameters, kernel_module
    from resorb.mechanism._cohort import sample_parameters

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, numba threads "
          f"{numba.get_num_threads()}, Python {platform.python_version()}, "
          f"numba {numba.__version__}")
    if not args.skip_compile:
        cold, warm = compile_times()
        print(f"compile (empty cache, incl. imports): {cold:.1f} s; "
              f"load from cache (incl. imports): {warm:.1f} s")

    model = load_model()
    simulate_cohort("extrusion", 100, seed=0)  # load compiled code in this process
    idx0 = np.array([0], dtype=np.int64)
    base = np.asarray(model.parameter_vector({"exposure": 0.479}))
    # the kernel simulate_cohort uses: inactive hypothesis modules compiled out
    k = kernel_module(model, frozen=inactive_parameters(model, base))

    def batch(pmat, rtol, atol):
        out = np.empty((pmat.shape[0], T_DAYS.size, 1))
        steps = np.zeros(pmat.shape[0], dtype=np.int64)
        k.solve_batch_reduced(pmat, T_DAYS, np.zeros(0), rtol, atol, 30.0, 1_000_000, idx0,
                              out, steps)
        return out[:, :, 0], steps

    # --- peer on a sample of the cohort's parameter sets ---------------------
    pmat = sample_parameters(model, base, "extrusion", args.peer, np.random.default_rng(7))
    tight, _ = batch(pmat, 1e-10, 1e-12)
    rr_s, rr_out = peer_roadrunner(model, pmat)
    rr_err = float(np.max(np.abs(rr_out - tight)))
    print(f"libroadrunner loop (CVODE, rtol {RTOL:g}, atol {ATOL:g} per species): "
          f"{1 / rr_s:,.0f} patients/s ({rr_s * 1e3:.2f} ms/patient, {args.peer} patients); "
          f"max |V/V0 error| vs a tight solution {rr_err:.1e}")

    # --- resorb batch cohorts -------------------------------------------------
    for rtol, atol, n in ((RTOL, ATOL, max(args.patients // 5, 1000)),
                          (1e-4, 1e-6, args.patients)):
        ours, _ = batch(pmat, rtol, atol)
        err = float(np.max(np.abs(ours - tight)))
        t0 = time.perf_counter()
        res = simulate_cohort("extrusion", n, seed=1, t_days=T_DAYS, rtol=rtol, atol=atol,
                              chunk_size=100_000)
        wall = time.perf_counter() - t0
        ours_ps = n / wall
        print(f"resorb batch (numba DOPRI5, {numba.get_num_threads()} threads, rtol {rtol:g}, "
              f"atol {atol:g}): {n:,} patients x 730 days in {wall:.1f} s = "
              f"{ours_ps:,.0f} patients/s (mean {res.solver['mean_steps']:.0f} steps/patient; "
              f"max |V/V0 error| {err:.1e}; fraction regressed 12 mo "
              f"{res.fraction_regressed():.3f})")
        threads = numba.get_num_threads()
        print(f"  ratio resorb / libroadrunner loop: {ours_ps * rr_s:.0f}x; per core "
              f"(resorb on {threads} threads, the peer on 1): {ours_ps / threads * rr_s:.0f}x")

    # --- single patient latency (daily output, 730 days) ---------------------
    def best(fn, n=30):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    lat_batch = best(lambda: simulate("extrusion", method="batch", rtol=1e-8, atol=1e-10))
    lat_ref = best(lambda: simulate("extrusion", rtol=1e-8, atol=1e-10), n=10)
    import roadrunner

    from resorb.mechanism import to_sbml

    rr = roadrunner.RoadRunner(to_sbml("extrusion"))

    def rr_once():
        rr.reset()
        rr.simulate(0, 730, 731)

    lat_rr = best(rr_once)
    print(f"single patient, 731 daily outputs (median): resorb batch path "
          f"{lat_batch * 1e3:.2f} ms, resorb SciPy reference {lat_ref * 1e3:.1f} ms, "
          f"libroadrunner {lat_rr * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
