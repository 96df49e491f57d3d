"""Virtual cohorts: inter-individual variability, batch simulation, summaries, Dask.

Patients differ in the exposure of their herniation (Beta distribution per
morphology) and in lognormal factors on a few rates (``variability`` in
``data/model.yaml``; assumptions calibrated only through regression rates).
Patients are drawn in fixed blocks of :data:`SEED_BLOCK` patients, block
``b`` from the seed ``(seed, b)``; chunks (the unit of work, ``chunk_size``
patients, here or on a Dask cluster) are cut from those blocks, so the same
seed gives the same cohort whatever the chunk size and wherever it runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resorb.errors import InvalidInputError, ModelError
from resorb.mechanism._codegen import inactive_parameters, kernel_module, step_failure_message
from resorb.mechanism._conditions import (
    MAX_DAYS,
    condition_overrides,
    morphology_exposure,
    parse_therapy,
)
from resorb.mechanism._model import Model, load_model

__all__ = [
    "DEFAULT_T_DAYS",
    "REGRESSION_THRESHOLD",
    "SEED_BLOCK",
    "CohortResult",
    "cohort_kernel",
    "sample_parameters",
    "simulate_cohort",
    "varied_parameters",
]

#: Volume reduction counted as "regressed" (the ``partial`` grade of ``resorb resorption``,
#: Zou et al. 2023, PMID 37559207: >= 25 %).
REGRESSION_THRESHOLD = 0.25
DEFAULT_T_DAYS = (0, 14, 30, 60, 90, 120, 180, 270, 365, 540, 730)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Patients per seeded block: patient ``i`` is drawn in block ``i // SEED_BLOCK``
#: from ``SeedSequence([seed, i // SEED_BLOCK])``, independent of the chunking.
SEED_BLOCK = 1000


@dataclass(frozen=True)
class CohortResult:
    """Summary of a virtual cohort, with the per-patient volumes it came from.

    Attributes
    ----------
    t_days : (T,) ndarray
    volume_fraction : (N, T) ndarray of float32
        V/V0 of every patient at ``t_days``.
    exposure : (N,) ndarray
        Sampled exposure of every patient.
    provenance : dict
        What is needed to reproduce the cohort: package ``version``,
        ``base_parameters`` (every parameter before per-patient variability,
        overrides applied), the ``overrides`` of the condition, the
        ``variability`` factors and their CVs, the ``exposure_distribution``,
        resolved ``therapies`` (id, start day), ``seed``, ``seed_block`` and
        ``chunk_size``.
    """

    morphology: str
    n: int
    seed: int
    t_days: np.ndarray
    volume_fraction: np.ndarray
    exposure: np.ndarray
    therapies: tuple[str, ...]
    solver: Mapping[str, Any]
    model: Mapping[str, str]
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def fraction_regressed(
        self, day: float = 365.0, threshold: float = REGRESSION_THRESHOLD
    ) -> float:
        """Share of patients whose volume fell by at least ``threshold`` by ``day``."""
        v = self._at(day)
        return float(np.mean(v <= 1.0 - threshold))

    def fraction_grown(self, day: float = 365.0, threshold: float = 0.0) -> float:
        """Share of patients whose volume rose by more than ``threshold`` by ``day``
        (default: any increase, as counted by 3D volumetry, Seo 2016, PMID 25253299)."""
        v = self._at(day)
        return float(np.mean(v > 1.0 + threshold + 1e-9))

    def _at(self, day: float) -> np.ndarray:
        j = np.searchsorted(self.t_days, day)
        if j < self.t_days.size and self.t_days[j] == day:
            return self.volume_fraction[:, j].astype(float)
        raise InvalidInputError(
            "day",
            f"{day} is not an output day of this cohort",
            allowed=", ".join(f"{d:g}" for d in self.t_days),
        )

    def quantiles(self, qs: Sequence[float] = QUANTILES) -> dict[str, list[float]]:
        # one output day at a time: memory stays at one column, whatever n
        q = np.stack(
            [
                np.quantile(self.volume_fraction[:, j].astype(float), qs)
                for j in range(self.t_days.size)
            ],
            axis=1,
        )
        return {
            f"q{round(100 * x):02d}": [float(v) for v in row] for x, row in zip(qs, q, strict=True)
        }

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``resorb simulate --cohort``."""
        out: dict[str, Any] = {
            "morphology": self.morphology,
            "n": self.n,
            "seed": self.seed,
            "therapies": list(self.therapies),
            "fraction_regressed_12mo": (
                self.fraction_regressed(365.0) if 365.0 in self.t_days else None
            ),
            "fraction_grown_12mo": (self.fraction_grown(365.0) if 365.0 in self.t_days else None),
            "definition": f"regressed = volume reduction >= {REGRESSION_THRESHOLD:.0%} "
            "(V/V0 <= 0.75) at 12 months (365 days) after onset; grown = "
            "any volume increase (V/V0 > 1) at 12 months",
            "t_days": [float(x) for x in self.t_days],
            "volume_fraction_quantiles": self.quantiles(),
            "mean_volume_fraction": [
                float(x) for x in self.volume_fraction.mean(axis=0, dtype=np.float64)
            ],
            "solver": dict(self.solver),
            "model": dict(self.model),
            "provenance": dict(self.provenance),
        }
        if 365.0 in self.t_days:
            out["fraction_by_definition_12mo"] = {
                "reduction_ge_25_percent": self.fraction_regressed(365.0, 0.25),
                "reduction_ge_50_percent": self.fraction_regressed(365.0, 0.50),
                "reduction_ge_95_percent": self.fraction_regressed(365.0, 0.95),
                "increase_any": self.fraction_grown(365.0, 0.0),
                "increase_ge_25_percent": self.fraction_grown(365.0, 0.25),
            }
        return out

    def to_parquet(self, path) -> None:
        """Per-patient V/V0 (one column per output day) and exposure; the summary
        and provenance go in the schema metadata. Written atomically."""
        import io
        import json

        from resorb._atomic import write_atomic
        from resorb.errors import require_extra

        pa = require_extra("pyarrow", "mechanism")
        import pyarrow.parquet as pq

        cols = {"exposure": pa.array(self.exposure)}
        for j, d in enumerate(self.t_days):
            cols[f"volume_fraction_day_{d:g}"] = pa.array(self.volume_fraction[:, j])
        table = pa.table(cols)
        table = table.replace_schema_metadata(
            {b"resorb.cohort": json.dumps(self.summary()).encode("utf-8")}
        )
        buf = io.BytesIO()
        pq.write_table(table, buf)
        write_atomic(path, buf.getvalue())


def sample_parameters(
    model: Model, base: np.ndarray, morphology: object, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Parameter matrix (n, n_params) of ``n`` virtual patients."""
    morph, mean = morphology_exposure(model, morphology)
    kappa = float(model.morphologies[morph.value]["kappa"])
    names = model.parameter_names
    index = {p: i for i, p in enumerate(names)}
    pmat = np.repeat(base[None, :], n, axis=0)
    pmat[:, index["exposure"]] = rng.beta(mean * kappa, (1.0 - mean) * kappa, size=n)
    for spec in model.variability.values():
        cv = float(spec["cv"])
        sigma = math.sqrt(math.log1p(cv * cv))
        factor = rng.lognormal(-0.5 * sigma * sigma, sigma, size=n)
        for pn in spec["parameters"]:
            pmat[:, index[pn]] *= factor
    return pmat


def _patients(
    model: Model, base: np.ndarray, morphology: str, seed: int, start: int, n: int
) -> np.ndarray:
    """Parameter rows of patients ``start .. start + n - 1`` of the cohort ``seed``.

    Each block of :data:`SEED_BLOCK` patients is drawn whole from its own seed
    and then sliced, so a patient's parameters do not depend on the chunking.
    """
    rows = []
    for block in range(start // SEED_BLOCK, (start + n - 1) // SEED_BLOCK + 1):
        rng = np.random.default_rng(np.random.SeedSequence([seed, block]))
        pm = sample_parameters(model, base, morphology, SEED_BLOCK, rng)
        lo = max(start - block * SEED_BLOCK, 0)
        hi = min(start + n - block * SEED_BLOCK, SEED_BLOCK)
        rows.append(pm[lo:hi])
    return np.concatenate(rows)


def varied_parameters(model: Model) -> tuple[str, ...]:
    """Parameters that differ between virtual patients: ``exposure`` (Beta per
    morphology) and every parameter under ``variability`` in ``data/model.yaml``."""
    names = ["exposure"]
    for spec in model.variability.values():
        names += [p for p in spec["parameters"] if p not in names]
    return tuple(names)


def cohort_kernel(model: Model, base: np.ndarray, freeze_constants: bool = True):
    """The kernel a cohort runs on: inactive switches compiled in as zeros (their
    states then drop out of the integration), and with ``freeze_constants`` every
    parameter that is the same for all patients compiled in as a constant too
    (the amounts of therapies not given are frozen to 0; the other therapy
    parameters stay run-time values, so one kernel serves every start day).
    Compiled once per machine and parameter set, then loaded from the disk cache."""
    frozen = inactive_parameters(model, base)
    if freeze_constants:
        varied = set(varied_parameters(model))
        for i, p in enumerate(model.parameters):
            if p.name not in varied and p.family != "therapy":
                frozen.setdefault(p.name, float(base[i]))
            elif p.name.endswith("_amount") and float(base[i]) == 0.0:
                frozen[p.name] = 0.0  # therapy not given: its terms compile out
    return kernel_module(model, frozen=frozen)


def _run_chunk(args: tuple) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one chunk (module-level so Dask can ship it)."""
    (
        index,
        start,
        seed,
        n,
        morphology,
        _therapies,
        over,
        breaks,
        t,
        rtol,
        atol,
        h_max,
        calibrated,
        obs_names,
        freeze,
    ) = args
    model = load_model(calibrated=calibrated)
    base = np.asarray(model.parameter_vector(over))
    pmat = _patients(model, base, morphology, seed, start, n)
    # inactive hypothesis modules (and, for the shipped parameters, every constant)
    # compiled in: the same model, fewer operations per step
    k = cohort_kernel(model, base, freeze)
    obs_idx = np.asarray([model.observable_names.index(o) for o in obs_names], dtype=np.int64)
    out = np.empty((n, t.size, obs_idx.size))
    steps = np.zeros(n, dtype=np.int64)
    # Dormand-Prince over 8 patients side by side in SIMD lanes, blocks of
    # LANE_BLOCK patients in parallel (the same steps as the one-patient integrator)
    k.solve_batch_lanes_reduced(
        pmat,
        t,
        np.asarray(breaks, dtype=float),
        rtol,
        atol,
        h_max,
        200_000,
        obs_idx,
        out,
        steps,
        LANE_BLOCK,
    )
    if np.any(steps < 0):
        raise ModelError(
            f"batch integrator {step_failure_message(int(steps[steps < 0][0]))} "
            f"for {int(np.sum(steps < 0))} patient(s)"
        )
    expo = pmat[:, model.parameter_names.index("exposure")].copy()
    return index, out.astype(np.float32), expo, steps


#: Patients per parallel work item of the lane integrator.
LANE_BLOCK = 256

#: Seconds to wait for a Dask scheduler before giving up.
SCHEDULER_TIMEOUT_S = 10


def _connect(address: object):
    """A distributed.Client for ``address``; InvalidInputError naming the scheduler if
    it cannot be reached within :data:`SCHEDULER_TIMEOUT_S` seconds."""
    from distributed import Client

    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise InvalidInputError(
            "scheduler",
            f"cannot connect to a Dask scheduler at {str(address)!r} within "
            f"{SCHEDULER_TIMEOUT_S} s ({type(exc).__name__})",
            allowed="a reachable scheduler address such as tcp://HOST:8786",
        ) from None


def simulate_cohort(
    morphology: object,
    n: int,
    *,
    seed: int = 0,
    therapies: Iterable[str] = (),
    t_days: Sequence[float] = DEFAULT_T_DAYS,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    h_max: float = 30.0,
    chunk_size: int = 25_000,
    scheduler: str | Any | None = None,
    parameters: Mapping[str, float] | None = None,
    extra_observables: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    model: Model | None = None,
) -> CohortResult:
    """Simulate ``n`` virtual patients with one herniation type.

    Parameters
    ----------
    morphology : str
        Herniation type (sets the exposure distribution).
    n : int
        Number of patients (>= 1).
    seed : int
        Seed of the cohort; the same seed gives the same cohort anywhere and
        with any ``chunk_size`` (patients are drawn in seeded blocks of
        :data:`SEED_BLOCK`).
    rtol, atol : float
        Tolerances of the batch integrator. The defaults keep V/V0 within about
        1e-4 of a tight (rtol 1e-10) solution, which is below any reported
        statistic's resolution (benchmarks/simulate.py measures it).
    therapies : iterable of str
        Therapy ids (``ID`` or ``ID@DAY``) given to everyone.
    t_days : sequence of float
        Output days (must include 365 for ``fraction_regressed_12mo``).
    chunk_size : int
        Patients per unit of work (memory and progress granularity only).
    scheduler : str or distributed.Client, optional
        Address of a Dask scheduler (or a client): chunks run on its workers.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk.

    Returns
    -------
    CohortResult
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InvalidInputError("cohort", f"{n!r} is not a cohort size", allowed="an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidInputError("seed", f"{seed!r} is not a seed", allowed="an integer >= 0")
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int | np.integer)
        or chunk_size < 1
    ):
        raise InvalidInputError(
            "chunk_size", f"{chunk_size!r} is not a chunk size", allowed="an integer >= 1"
        )
    from resorb.domain import HerniationMorphology, parse_enum

    morph = parse_enum(HerniationMorphology, morphology, field="morphology").value
    model = model or load_model()
    t = np.asarray(t_days, dtype=float)
    if (
        t.ndim != 1
        or t.size == 0
        or not np.all(np.isfinite(t))
        or np.any(t < 0)
        or np.any(np.diff(t) <= 0)
        or t[-1] > MAX_DAYS
    ):
        raise InvalidInputError(
            "t_days",
            f"output days must be finite, >= 0, increasing and at most {MAX_DAYS:g}",
            allowed=f"increasing days in [0, {MAX_DAYS:g}] (software limit)",
        )
    regimens = [parse_therapy(x) for x in therapies]
    over, breaks = condition_overrides(
        model, morphology=morph, therapies=regimens, parameters=parameters
    )
    calibrated = model is load_model(calibrated=True)
    if not calibrated and model is not load_model(calibrated=False):
        raise InvalidInputError(
            "model", "cohorts run on the shipped model; pass parameter changes through `parameters`"
        )
    obs_names = ("volume_fraction", *extra_observables)
    starts = list(range(0, n, chunk_size))
    tasks = [
        (
            i,
            start,
            int(seed),
            min(chunk_size, n - start),
            morph,
            tuple(str(r.id) for r in regimens),
            over,
            breaks,
            t,
            float(rtol),
            float(atol),
            float(h_max),
            calibrated,
            obs_names,
            not parameters,
        )
        for i, start in enumerate(starts)
    ]
    # results are written in place, chunk by chunk: memory is the float32 volumes
    # (n x output days) plus one chunk's work arrays, whatever n
    out = np.empty((n, t.size, len(obs_names)), dtype=np.float32)
    expo = np.empty(n)
    steps = np.empty(n, dtype=np.int64)

    def store(idx: int, o: np.ndarray, e: np.ndarray, st: np.ndarray) -> None:
        lo = starts[idx]
        out[lo : lo + o.shape[0]] = o
        expo[lo : lo + o.shape[0]] = e
        steps[lo : lo + o.shape[0]] = st

    t0 = time.perf_counter()
    if scheduler is None:
        for done, task in enumerate(tasks, start=1):
            store(*_run_chunk(task))
            if progress is not None:
                progress(done, len(tasks))
    else:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else _connect(scheduler)
        try:
            futures = client.map(_run_chunk, tasks, pure=False)
            for done, fut in enumerate(as_completed(futures), start=1):
                store(*fut.result())
                fut.release()
                if progress is not None:
                    progress(done, len(tasks))
        finally:
            if client is not scheduler:
                client.close()
    elapsed = time.perf_counter() - t0
    from resorb import __version__

    therapy_info = [
        {
            "id": r.id,
            "start_day": float(over[f"{r.id}_start_day"]),
            "evidence": model.therapies[r.id].evidence,
            "extrapolation": model.therapies[r.id].extrapolation,
        }
        for r in regimens
    ]
    base = dict(zip(model.parameter_names, model.parameter_vector(over), strict=True))
    provenance = {
        "version": __version__,
        "base_parameters": base,
        "overrides": {k: float(v) for k, v in over.items()},
        "variability": {
            name: {
                "parameters": list(spec["parameters"]),
                "cv": float(spec["cv"]),
                "confidence": spec["confidence"],
            }
            for name, spec in model.variability.items()
        },
        "exposure_distribution": {
            "kind": "beta",
            "mean": float(over["exposure"]),
            "kappa": float(model.morphologies[morph]["kappa"]),
        },
        "therapies": therapy_info,
        "seed": int(seed),
        "seed_block": SEED_BLOCK,
        "chunk_size": int(chunk_size),
        "breakpoints_days": list(breaks),
    }
    return CohortResult(
        morphology=morph,
        n=int(n),
        seed=int(seed),
        t_days=t,
        volume_fraction=out[:, :, 0],
        exposure=expo,
        therapies=tuple(
            str(r.id) if r.start_day is None else f"{r.id}@{r.start_day:g}" for r in regimens
        ),
        solver={
            "path": "batch",
            "method": "DOPRI5",
            "rtol": rtol,
            "atol": atol,
            "h_max_days": h_max,
            "chunk_size": chunk_size,
            "variant": "reduced",
            "scheduler": None if scheduler is None else str(scheduler),
            "mean_steps": float(steps.mean()),
            "elapsed_s": elapsed,
        },
        model={
            "name": model.name,
            "digest": model.digest,
            "calibrated": "yes" if calibrated else "no",
        },
        extra={name: out[:, :, i + 1] for i, name in enumerate(extra_observables)},
        provenance=provenance,
    )
