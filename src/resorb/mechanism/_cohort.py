"""Virtual cohorts: inter-individual variability, batch simulation, summaries, Dask.

Patients differ in the exposure of their herniation (Beta distribution per
morphology) and in lognormal factors on a few rates (``variability`` in
``data/model.yaml``; assumptions calibrated only through regression rates).
Patients are simulated in fixed chunks, each with its own seed derived from
``(seed, chunk index)``, so a cohort is the same whether its chunks run here
or on a Dask cluster.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resorb.errors import InvalidInputError, ModelError
from resorb.mechanism._codegen import inactive_parameters, kernel_module
from resorb.mechanism._conditions import condition_overrides, morphology_exposure, parse_therapy
from resorb.mechanism._model import Model, load_model

__all__ = [
    "REGRESSION_THRESHOLD",
    "CohortResult",
    "sample_parameters",
    "simulate_cohort",
]

#: Volume reduction counted as "regressed" (the ``partial`` grade of DESIGN.md,
#: Zou et al. 2023, PMID 37559207: >= 25 %).
REGRESSION_THRESHOLD = 0.25
DEFAULT_T_DAYS = (0, 14, 30, 60, 90, 120, 180, 270, 365, 540, 730)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


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

    def fraction_regressed(self, day: float = 365.0,
                           threshold: float = REGRESSION_THRESHOLD) -> float:
        """Share of patients whose volume fell by at least ``threshold`` by ``day``."""
        v = self._at(day)
        return float(np.mean(v <= 1.0 - threshold))

    def _at(self, day: float) -> np.ndarray:
        j = np.searchsorted(self.t_days, day)
        if j < self.t_days.size and self.t_days[j] == day:
            return self.volume_fraction[:, j].astype(float)
        raise InvalidInputError("day", f"{day} is not an output day of this cohort",
                                allowed=", ".join(f"{d:g}" for d in self.t_days))

    def quantiles(self, qs: Sequence[float] = QUANTILES) -> dict[str, list[float]]:
        q = np.quantile(self.volume_fraction.astype(float), qs, axis=0)
        return {f"q{round(100 * x):02d}": [float(v) for v in row] for x, row in zip(qs, q,
                                                                                    strict=True)}

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``resorb simulate --cohort``."""
        out: dict[str, Any] = {
            "morphology": self.morphology,
            "n": self.n,
            "seed": self.seed,
            "therapies": list(self.therapies),
            "fraction_regressed_12mo": (self.fraction_regressed(365.0)
                                        if 365.0 in self.t_days else None),
            "definition": f"regressed = volume reduction >= {REGRESSION_THRESHOLD:.0%} "
                          "(V/V0 <= 0.75) at 12 months (365 days) after onset",
            "t_days": [float(x) for x in self.t_days],
            "volume_fraction_quantiles": self.quantiles(),
            "mean_volume_fraction": [float(x) for x in
                                     self.volume_fraction.astype(float).mean(axis=0)],
            "solver": dict(self.solver),
            "model": dict(self.model),
        }
        if 365.0 in self.t_days:
            out["fraction_by_definition_12mo"] = {
                "reduction_ge_25_percent": self.fraction_regressed(365.0, 0.25),
                "reduction_ge_50_percent": self.fraction_regressed(365.0, 0.50),
                "reduction_ge_95_percent": self.fraction_regressed(365.0, 0.95),
            }
        return out


    def to_parquet(self, path) -> None:
        """Per-patient V/V0 (one column per output day) and exposure; the summary
        and provenance go in the schema metadata. Written atomically."""
        import json
        from pathlib import Path

        from resorb.errors import require_extra

        pa = require_extra("pyarrow", "stats")  # Parquet support ships with the stats extra
        import pyarrow.parquet as pq

        cols = {"exposure": pa.array(self.exposure)}
        for j, d in enumerate(self.t_days):
            cols[f"volume_fraction_day_{d:g}"] = pa.array(self.volume_fraction[:, j])
        table = pa.table(cols)
        table = table.replace_schema_metadata(
            {b"resorb.cohort": json.dumps(self.summary()).encode("utf-8")})
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            pq.write_table(table, tmp)
            tmp.replace(path)
        finally:
            if tmp.exists():
                tmp.unlink()


def sample_parameters(model: Model, base: np.ndarray, morphology: object, n: int,
                      rng: np.random.Generator) -> np.ndarray:
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


def _run_chunk(args: tuple) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one chunk (module-level so Dask can ship it)."""
    (index, seed, n, morphology, _therapies, over, breaks, t, rtol, atol, h_max,
     calibrated, obs_names) = args
    model = load_model(calibrated=calibrated)
    base = np.asarray(model.parameter_vector(over))
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    pmat = sample_parameters(model, base, morphology, n, rng)
    # inactive hypothesis modules etc. compiled in as zeros: the same results, faster
    k = kernel_module(model, frozen=inactive_parameters(model, base))
    obs_idx = np.asarray([model.observable_names.index(o) for o in obs_names], dtype=np.int64)
    out = np.empty((n, t.size, obs_idx.size))
    steps = np.zeros(n, dtype=np.int64)
    k.solve_batch_reduced(pmat, t, np.asarray(breaks, dtype=float), rtol, atol, h_max,
                          200_000, obs_idx, out, steps)
    if np.any(steps < 0):
        raise ModelError(f"{int(np.sum(steps < 0))} patients exceeded the step limit")
    expo = pmat[:, model.parameter_names.index("exposure")].copy()
    return index, out.astype(np.float32), expo, steps


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
        Seed of the cohort; the same seed gives the same cohort anywhere.
    rtol, atol : float
        Tolerances of the batch integrator. The defaults keep V/V0 within about
        1e-4 of a tight (rtol 1e-10) solution, which is below any reported
        statistic's resolution (benchmarks/simulate.py measures it).
    therapies : iterable of str
        Therapy ids (``ID`` or ``ID@DAY``) given to everyone.
    t_days : sequence of float
        Output days (must include 365 for ``fraction_regressed_12mo``).
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
    model = model or load_model()
    t = np.asarray(t_days, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(t < 0) or np.any(np.diff(t) <= 0):
        raise InvalidInputError("t_days", "output days must be >= 0 and increasing")
    regimens = [parse_therapy(x) for x in therapies]
    over, breaks = condition_overrides(model, morphology=morphology, therapies=regimens,
                                       parameters=parameters)
    calibrated = model is load_model(calibrated=True)
    if not calibrated and model is not load_model(calibrated=False):
        raise InvalidInputError("model", "cohorts run on the shipped model; pass parameter "
                                "changes through `parameters`")
    obs_names = ("volume_fraction", *extra_observables)
    sizes = [min(chunk_size, n - i) for i in range(0, n, chunk_size)]
    tasks = [(i, int(seed), sz, str(morphology), tuple(str(r.id) for r in regimens), over,
              breaks, t, float(rtol), float(atol), float(h_max), calibrated, obs_names)
             for i, sz in enumerate(sizes)]
    results: list[Any] = [None] * len(tasks)
    t0 = time.perf_counter()
    if scheduler is None:
        for done, task in enumerate(tasks, start=1):
            idx, out, expo, steps = _run_chunk(task)
            results[idx] = (out, expo, steps)
            if progress is not None:
                progress(done, len(tasks))
    else:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = client.map(_run_chunk, tasks, pure=False)
            for done, fut in enumerate(as_completed(futures), start=1):
                idx, out, expo, steps = fut.result()
                results[idx] = (out, expo, steps)
                if progress is not None:
                    progress(done, len(tasks))
        finally:
            if client is not scheduler:
                client.close()
    elapsed = time.perf_counter() - t0
    out = np.concatenate([r[0] for r in results])
    expo = np.concatenate([r[1] for r in results])
    steps = np.concatenate([r[2] for r in results])
    from resorb.domain import HerniationMorphology, parse_enum

    morph = parse_enum(HerniationMorphology, morphology, field="morphology")
    return CohortResult(
        morphology=morph.value, n=int(n), seed=int(seed), t_days=t,
        volume_fraction=out[:, :, 0], exposure=expo,
        therapies=tuple(str(r.id) if r.start_day is None else f"{r.id}@{r.start_day:g}"
                        for r in regimens),
        solver={"path": "batch", "method": "DOPRI5", "rtol": rtol, "atol": atol,
                "h_max_days": h_max, "chunk_size": chunk_size, "variant": "reduced",
                "scheduler": None if scheduler is None else str(scheduler),
                "mean_steps": float(steps.mean()), "elapsed_s": elapsed},
        model={"name": model.name, "digest": model.digest,
               "calibrated": "yes" if calibrated else "no"},
        extra={name: out[:, :, i + 1] for i, name in enumerate(extra_observables)},
    )
