"""Simulation of one patient: a SciPy reference path and the compiled batch path.

Both paths integrate the right-hand side generated from the same
:class:`~resorb.mechanism.Model`; a test keeps them within 1e-4 of each other.

``method="reference"``
    :func:`scipy.integrate.solve_ivp` with a stiff-safe method (LSODA by
    default; Radau or BDF on request) on the plain-Python right-hand side.
``method="batch"``
    the numba-compiled Dormand-Prince 5(4) integrator with error control and
    dense output (see :mod:`resorb.mechanism._codegen`), here for one patient;
    :mod:`resorb.mechanism._cohort` runs it over many.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resorb.errors import InvalidInputError, ModelError
from resorb.mechanism._codegen import kernel_module, step_failure_message
from resorb.mechanism._conditions import (
    MAX_DAYS,
    TherapyRegimen,
    condition_overrides,
    parse_therapy,
)
from resorb.mechanism._model import Model, load_model

__all__ = ["SimulationResult", "simulate", "simulate_parameters"]

_REFERENCE_METHODS = ("LSODA", "Radau", "BDF")


def _version() -> str:
    from resorb import __version__

    return __version__


@dataclass(frozen=True)
class SimulationResult:
    """Trajectory of one simulated patient, with its provenance.

    Attributes
    ----------
    t_days : (T,) ndarray of float
        Output times, days since herniation onset.
    observables : dict of str to (T,) ndarray
        ``volume_fraction`` (V/V0) first, then the other observables.
    parameters : dict of str to float
        Every parameter value used.
    solver : dict
        Path (``reference``/``batch``), method, tolerances, model variant.
    condition : dict
        Morphology, therapies (id and start day), modules, knockouts.
    model : dict
        Model name and structure digest.
    version : str
        resorb package version that produced the result.
    """

    t_days: np.ndarray
    observables: Mapping[str, np.ndarray]
    parameters: Mapping[str, float]
    solver: Mapping[str, Any]
    condition: Mapping[str, Any]
    model: Mapping[str, str]
    version: str = field(default_factory=_version)

    @property
    def volume_fraction(self) -> np.ndarray:
        return self.observables["volume_fraction"]

    def at(self, day: float, name: str = "volume_fraction") -> float:
        """Observable ``name`` at ``day`` (linear interpolation between outputs)."""
        return float(np.interp(day, self.t_days, self.observables[name]))

    def to_frame(self):
        """A :class:`pandas.DataFrame` with ``day``, ``volume_fraction``, then the rest."""
        import pandas as pd

        data = {"day": self.t_days}
        data.update({k: np.asarray(v) for k, v in self.observables.items()})
        return pd.DataFrame(data)

    def metadata(self) -> dict[str, Any]:
        return {
            "parameters": dict(self.parameters),
            "solver": dict(self.solver),
            "condition": dict(self.condition),
            "model": dict(self.model),
            "version": self.version,
        }

    def to_dict(self) -> dict[str, Any]:
        out = self.metadata()
        out["t_days"] = [float(x) for x in self.t_days]
        out["observables"] = {k: [float(x) for x in v] for k, v in self.observables.items()}
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text (written to ``path`` atomically if given)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False)
        if path is not None:
            from resorb._atomic import write_atomic

            write_atomic(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> SimulationResult:
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        data = json.loads(p.read_text("utf-8") if p is not None else str(text_or_path))
        return cls(
            t_days=np.asarray(data["t_days"], dtype=float),
            observables={k: np.asarray(v, dtype=float) for k, v in data["observables"].items()},
            parameters=data["parameters"],
            solver=data["solver"],
            condition=data["condition"],
            model=data["model"],
            version=data["version"],
        )

    def to_parquet(self, path: str | Path) -> None:
        """Parquet table of the trajectory; provenance in the schema metadata."""
        import io

        from resorb._atomic import write_atomic
        from resorb.errors import require_extra

        pa = require_extra("pyarrow", "mechanism")
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.to_frame(), preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"resorb.simulation"] = json.dumps(self.metadata()).encode("utf-8")
        table = table.replace_schema_metadata(meta)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        write_atomic(path, buf.getvalue())

    @classmethod
    def from_parquet(cls, path: str | Path) -> SimulationResult:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"resorb.simulation"])
        df = table.to_pandas()
        obs = {c: df[c].to_numpy(dtype=float) for c in df.columns if c != "day"}
        return cls(t_days=df["day"].to_numpy(dtype=float), observables=obs, **meta)


def _time_grid(days: float, t_days: Sequence[float] | None) -> np.ndarray:
    if t_days is not None:
        t = np.asarray(t_days, dtype=float)
        if (
            t.ndim != 1
            or t.size == 0
            or np.any(~np.isfinite(t))
            or np.any(t < 0)
            or np.any(np.diff(t) <= 0)
            or t[-1] > MAX_DAYS
        ):
            raise InvalidInputError(
                "t_days",
                f"output times must be finite, >= 0, increasing and at most {MAX_DAYS:g} days",
                allowed=f"increasing days in [0, {MAX_DAYS:g}] (software limit)",
            )
        return t
    check_days(days, "days")
    return np.arange(0.0, math.floor(days) + 1.0)


def check_days(days: object, field: str) -> float:
    """``days`` as a float if it is a finite horizon in (0, MAX_DAYS]; else InvalidInputError."""
    ok = isinstance(days, int | float | np.integer | np.floating) and not isinstance(days, bool)
    if not (ok and math.isfinite(days) and 0 < days <= MAX_DAYS):
        raise InvalidInputError(
            field,
            f"{days!r} is not a finite number of days in (0, {MAX_DAYS:g}]",
            allowed=f"0 < days <= {MAX_DAYS:g} (software limit: ten years)",
        )
    return float(days)


def simulate_parameters(
    model: Model,
    pvec: np.ndarray,
    t: np.ndarray,
    *,
    breaks: Sequence[float] = (),
    variant: str = "reduced",
    method: str = "reference",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    solver_method: str = "LSODA",
    h_max: float = 30.0,
) -> np.ndarray:
    """Observables (T, n_obs) for one parameter vector: the low-level entry point."""
    k = kernel_module(model)
    n_obs = len(model.observables)
    pvec = np.ascontiguousarray(pvec, dtype=float)
    if method == "batch":
        out = np.empty((t.size, n_obs))
        steps = k.__dict__[f"solve_one_{variant}"](
            pvec,
            t,
            np.asarray(breaks, dtype=float),
            float(rtol),
            float(atol),
            float(h_max),
            1_000_000,
            np.arange(n_obs, dtype=np.int64),
            out,
        )
        if steps < 0:
            raise ModelError("batch integrator " + step_failure_message(int(steps)))
        return out
    if method != "reference":
        raise InvalidInputError(
            "method", f"{method!r} is not a solver path", allowed="reference, batch"
        )
    if solver_method not in _REFERENCE_METHODS:
        raise InvalidInputError(
            "solver_method",
            f"{solver_method!r} is not offered",
            allowed=", ".join(_REFERENCE_METHODS),
        )
    from scipy.integrate import solve_ivp

    rhs = getattr(k, f"rhs_{variant}")
    rhs = getattr(rhs, "py_func", rhs)
    obs = getattr(k, f"obs_{variant}")
    obs = getattr(obs, "py_func", obs)
    init = getattr(k, f"init_{variant}")
    init = getattr(init, "py_func", init)
    n = len(model.state_names(variant))
    y = np.empty(n)
    init(pvec, y)
    plist = pvec.tolist()  # Python floats: much faster element access than numpy

    def f(tt, yy):
        dy = np.empty(n)
        rhs(tt, yy, plist, dy)
        return dy

    # integrate piecewise between breakpoints so forcing jumps are never stepped over
    edges = [0.0, *[b for b in sorted(set(breaks)) if 0.0 < b < t[-1]], float(t[-1])]
    out = np.empty((t.size, n_obs))
    row = np.empty(n_obs)
    first = t <= 0.0
    for j in np.flatnonzero(first):
        obs(0.0, y, plist, row)
        out[j] = row
    for a, b in itertools.pairwise(edges):
        sel = np.flatnonzero((t > a) & (t <= b))
        if b <= a:
            continue
        t_eval = t[sel]
        if not (sel.size and t_eval[-1] == b):
            t_eval = np.append(t_eval, b)
        sol = solve_ivp(f, (a, b), y, method=solver_method, t_eval=t_eval, rtol=rtol, atol=atol)
        if not sol.success:
            raise ModelError(f"reference solver failed: {sol.message}")
        for q, j in enumerate(sel):
            obs(t[j], sol.y[:, q], plist, row)
            out[j] = row
        y = sol.y[:, -1].copy()
    return out


def simulate(
    morphology: object,
    *,
    therapies: Iterable[str | TherapyRegimen] = (),
    days: float = 730,
    t_days: Sequence[float] | None = None,
    variant: str = "reduced",
    method: str = "batch",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    solver_method: str = "LSODA",
    modules: Iterable[str] = (),
    knockouts: Iterable[str] = (),
    coculture: bool = False,
    parameters: Mapping[str, float] | None = None,
    model: Model | None = None,
) -> SimulationResult:
    """Simulate the typical patient of a herniation type.

    Parameters
    ----------
    morphology : str or HerniationMorphology
        ``bulge``, ``protrusion``, ``extrusion`` or ``sequestration``; sets the
        exposure of the nucleus pulposus.
    therapies : iterable of str
        Therapy ids (``"epidural_steroid"``), optionally with a start day
        (``"epidural_steroid@45"``).
    days : float, default 730
        Horizon in days; outputs are daily (``t_days`` overrides).
    variant : {"reduced", "full"}
        Quasi-steady fast mediators (default) or the full stiff model.
    method : {"batch", "reference"}
        The compiled Dormand-Prince path (default; well under a millisecond
        per patient once compiled) or SciPy (stiff-safe LSODA/Radau/BDF).
    rtol, atol : float
        Tolerances of the integrator.
    modules : iterable of str
        Hypothesis modules to switch on (``ferroptosis``, ``oxidative_stress``,
        ``autophagy``); each raises :class:`~resorb.errors.HypothesisModuleWarning`.
    knockouts : iterable of str
        In-silico knockouts (``mmp3``, ``mmp7``, ``tnf``).
    coculture : bool
        Co-culture mode of Haro 2000 (disc tissue with macrophages, no vessels).
    parameters : mapping, optional
        Further parameter overrides by name.

    Returns
    -------
    SimulationResult
    """
    model = model or load_model()
    from resorb.mechanism._model import _check_variant

    _check_variant(variant)
    if not (rtol > 0 and atol > 0):
        raise InvalidInputError("rtol", "tolerances must be > 0")
    t = _time_grid(days, t_days)
    modules, knockouts = tuple(modules), tuple(knockouts)  # may be one-shot iterators
    regimens = [parse_therapy(x) for x in therapies]
    over, breaks = condition_overrides(
        model,
        morphology=morphology,
        therapies=regimens,
        modules=modules,
        knockouts=knockouts,
        coculture=coculture,
        parameters=parameters,
    )
    pvec = np.asarray(model.parameter_vector(over))
    out = simulate_parameters(
        model,
        pvec,
        t,
        breaks=breaks,
        variant=variant,
        method=method,
        rtol=rtol,
        atol=atol,
        solver_method=solver_method,
    )
    from resorb.domain import HerniationMorphology, parse_enum

    morph = parse_enum(HerniationMorphology, morphology, field="morphology")
    therapy_info = []
    for reg in regimens:
        spec = model.therapies[reg.id]
        therapy_info.append(
            {
                "id": reg.id,
                "kind": spec.kind,
                "start_day": over[f"{reg.id}_start_day"],
                "half_life_days": spec.half_life_days,
                "sources": dict(spec.sources),
                "evidence": spec.evidence,
                "evidence_sources": list(spec.evidence_sources),
                "extrapolation": spec.extrapolation,
            }
        )
    return SimulationResult(
        t_days=t,
        observables={name: out[:, i].copy() for i, name in enumerate(model.observable_names)},
        parameters=dict(zip(model.parameter_names, map(float, pvec), strict=True)),
        solver={
            "path": method,
            "method": "DOPRI5" if method == "batch" else solver_method,
            "rtol": rtol,
            "atol": atol,
            "variant": variant,
            "breakpoints_days": breaks,
        },
        condition={
            "morphology": morph.value,
            "therapies": therapy_info,
            "modules": sorted(modules),
            "knockouts": sorted(knockouts),
            "coculture": bool(coculture),
        },
        model={"name": model.name, "digest": model.digest},
    )
