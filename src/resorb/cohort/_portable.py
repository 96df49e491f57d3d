"""Portable model files: a fitted model as JSON, applied to cases and tables.

The file holds everything needed to apply the model without the development
data: coefficients and their covariance, the coding of every predictor
(reference levels, spline knots), development ranges, performance, the outcome
definition and horizon, citation and provenance, and the resorb version. It is
plain JSON (never pickle), so other tools can read it.

Case-file fields map to predictor columns by their case-file names:

============================================  =========================
case file                                     predictor column
============================================  =========================
``patient.age_years``, ``patient.sex``        ``age_years``, ``sex``
``herniation.<key>`` (level, morphology,      ``<key>``
containment, pll, zone, migration, komori,
msu_size, msu_zone, rim_enhancement,
iwabuchi, t2_signal, modic, pfirrmann,
schizas, canal_compromise_percent)
``symptoms.<key>`` (leg_pain_nrs,             ``<key>``
back_pain_nrs, vas_mm, slr_degrees,
motor_mrc)
``symptoms.odi_answers``                      ``odi_percent``
``symptoms.onset_date`` to first MRI date     ``symptom_duration_days``
``mri[0].volume_mm3`` (or pi/6 * product of   ``volume_mm3``
``mri[0].diameters_mm``)
============================================  =========================
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from resorb._atomic import write_atomic
from resorb.cohort._coding import (
    PredictorCoding,
    data_specs,
    design_matrix,
    prepare_columns,
)
from resorb.errors import InvalidInputError, OutsideEvidenceRangeWarning

__all__ = [
    "CASE_FIELD_MAP",
    "CasePrediction",
    "PortableModel",
    "case_predictor_values",
    "load_portable_model",
]

FORMAT = "resorb-cohort-model"
FORMAT_VERSION = 1
_Z95 = 1.959963984540054

#: Predictor column -> dotted case-file field it is read from.
CASE_FIELD_MAP: dict[str, str] = {
    "age_years": "patient.age_years",
    "sex": "patient.sex",
    **{
        k: f"herniation.{k}"
        for k in (
            "level",
            "morphology",
            "containment",
            "pll",
            "zone",
            "migration",
            "komori",
            "msu_size",
            "msu_zone",
            "rim_enhancement",
            "iwabuchi",
            "t2_signal",
            "modic",
            "pfirrmann",
            "schizas",
            "canal_compromise_percent",
        )
    },
    **{
        k: f"symptoms.{k}"
        for k in ("leg_pain_nrs", "back_pain_nrs", "vas_mm", "slr_degrees", "motor_mrc")
    },
    "odi_percent": "symptoms.odi_answers",
    "symptom_duration_days": "symptoms.onset_date",
    "volume_mm3": "mri[0].volume_mm3",
}


def _plain(value: Any) -> Any:
    from enum import Enum

    if isinstance(value, Enum):
        return value.value
    return value


def case_predictor_values(case) -> dict[str, Any]:
    """Predictor-column values available in a :class:`resorb.domain.Case`."""
    from resorb.scores import odi_percent

    out: dict[str, Any] = {}
    p, h, s = case.patient, case.herniation, case.symptoms
    out["age_years"] = p.age_years
    out["sex"] = _plain(p.sex)
    for key in (
        "level",
        "morphology",
        "containment",
        "pll",
        "zone",
        "migration",
        "komori",
        "msu_size",
        "msu_zone",
        "rim_enhancement",
        "iwabuchi",
        "t2_signal",
        "modic",
        "pfirrmann",
        "schizas",
        "canal_compromise_percent",
    ):
        out[key] = _plain(getattr(h, key))
    for key in ("leg_pain_nrs", "back_pain_nrs", "vas_mm", "slr_degrees", "motor_mrc"):
        out[key] = getattr(s, key)
    out["odi_percent"] = None if s.odi_answers is None else odi_percent(s.odi_answers).odi_percent
    if s.onset_date is not None and case.mri:
        out["symptom_duration_days"] = (case.mri[0].date - s.onset_date).days
    else:
        out["symptom_duration_days"] = None
    if case.mri:
        # The same measurement as the assessment's (reported volume, mask voxels
        # with the image's own affine, or the ellipsoid of three diameters).
        from resorb.imaging import measure_study

        out["volume_mm3"] = measure_study(case.mri[0]).volume_mm3
    return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class CasePrediction:
    """What a portable model says about one case (``to_dict`` is the assess contract)."""

    probability: float
    interval: tuple[float, float]
    horizon_months: float | None
    definition: str
    factors: list[dict]
    warnings: list[str] = field(default_factory=list)
    model: str = ""

    def to_dict(self) -> dict:
        return {
            "probability": self.probability,
            "interval": list(self.interval),
            "horizon_months": self.horizon_months,
            "definition": self.definition,
            "factors": self.factors,
            "warnings": list(self.warnings),
            "model": self.model,
        }


@dataclass(frozen=True)
class PortableModel:
    """A logistic prediction model read from (or written to) a JSON model file."""

    names: tuple[str, ...]
    coef: np.ndarray
    cov: np.ndarray
    codings: tuple[PredictorCoding, ...]
    outcome: str
    definition: str
    horizon_months: float | None
    method: str
    development: dict
    performance: dict
    citation: dict
    provenance: dict
    resorb_version: str
    path: Path | None = None

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "resorb_version": self.resorb_version,
            "model": {
                "type": "logistic",
                "method": self.method,
                "outcome": self.outcome,
                "definition": self.definition,
                "horizon_months": self.horizon_months,
                "link": "logit",
            },
            "coefficients": [
                {"term": n, "coef": float(c)} for n, c in zip(self.names, self.coef, strict=True)
            ],
            "covariance": np.asarray(self.cov, float).tolist(),
            "predictors": [c.to_dict() for c in self.codings],
            "development": self.development,
            "performance": self.performance,
            "citation": self.citation,
            "provenance": self.provenance,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model file atomically (a failed write leaves the old file intact)."""
        path = Path(path)
        write_atomic(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    @classmethod
    def from_dict(cls, d: dict, *, path: Path | None = None) -> PortableModel:
        where = str(path) if path else "model"
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InvalidInputError(
                where,
                "is not a resorb cohort model file",
                allowed=f'JSON with "format": "{FORMAT}"',
            )
        if d.get("format_version") != FORMAT_VERSION:
            raise InvalidInputError(
                f"{where}.format_version",
                repr(d.get("format_version")),
                allowed=str(FORMAT_VERSION),
            )
        try:
            m = d["model"]
            names = tuple(c["term"] for c in d["coefficients"])
            coef = np.array([float(c["coef"]) for c in d["coefficients"]])
            cov = np.array(d["covariance"], float)
            codings = tuple(PredictorCoding.from_dict(c) for c in d["predictors"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                where,
                f"malformed model file ({exc})",
                allowed="a file written by 'resorb cohort fit --save-model'",
            ) from None
        expected = ("Intercept", *(n for c in codings for n in c.columns))
        if names != expected or cov.shape != (len(names), len(names)):
            raise InvalidInputError(
                f"{where}.coefficients",
                "do not match the predictor coding",
                allowed=", ".join(expected),
            )
        return cls(
            names,
            coef,
            cov,
            codings,
            m["outcome"],
            m["definition"],
            m.get("horizon_months"),
            m.get("method", ""),
            d.get("development", {}),
            d.get("performance", {}),
            d.get("citation", {}),
            d.get("provenance", {}),
            d.get("resorb_version", ""),
            path,
        )

    # -- prediction ----------------------------------------------------------
    def _design(self, df: pd.DataFrame) -> np.ndarray:
        frame = prepare_columns(df, data_specs(self.codings))
        for c in self.codings:
            if frame[c.name].isna().any():
                raise InvalidInputError(c.name, "is missing", allowed=_allowed(c))
        return np.column_stack([np.ones(len(frame)), design_matrix(frame, self.codings)])

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Probability and 95% interval (delta method on the logit) for each row."""
        X = self._design(df)  # noqa: N806
        lp = X @ self.coef
        se = np.sqrt(np.einsum("ni,ij,nj->n", X, self.cov, X))
        return pd.DataFrame(
            {
                "probability": expit(lp),
                "lower": expit(lp - _Z95 * se),
                "upper": expit(lp + _Z95 * se),
                "linear_predictor": lp,
            },
            index=df.index,
        )

    def predict_case(self, case) -> CasePrediction:
        """Apply the model to a :class:`resorb.domain.Case`.

        Issues :class:`~resorb.errors.OutsideEvidenceRangeWarning` (and lists
        the reason in ``warnings``) when a value lies outside the development
        range. A predictor the case does not give raises
        :class:`~resorb.errors.InvalidInputError` naming the case-file field.
        """
        values = case_predictor_values(case)
        row = {}
        for c in self.codings:
            if c.name not in values:
                field_name = CASE_FIELD_MAP.get(c.name, c.name)
                raise InvalidInputError(
                    field_name,
                    f"is needed by the model {self.path.name if self.path else ''}".rstrip(),
                    allowed=_allowed(c),
                )
            row[c.name] = values[c.name]
        df = pd.DataFrame([row])
        notes = []
        for c in self.codings:
            if c.kind == "categorical":
                continue
            v = float(row[c.name])
            lo, hi = c.range if c.range else (-math.inf, math.inf)
            if not lo <= v <= hi:
                notes.append(
                    f"{CASE_FIELD_MAP.get(c.name, c.name)} = {v:g} is outside the "
                    f"development range {lo:g}-{hi:g} of the model"
                )
        for msg in notes:
            warnings.warn(msg, OutsideEvidenceRangeWarning, stacklevel=2)
        try:
            pred = self.predict_frame(df).iloc[0]
        except InvalidInputError as exc:
            field_name = CASE_FIELD_MAP.get(exc.field, exc.field)
            raise InvalidInputError(field_name, exc.message, allowed=exc.allowed) from None
        source = {
            "model_file": str(self.path) if self.path else None,
            "citation": self.citation.get("text"),
            "doi": self.citation.get("doi"),
            "pmid": self.citation.get("pmid"),
        }
        frame = prepare_columns(df, data_specs(self.codings))
        factors = []
        pos = 1
        for c in self.codings:
            width = len(c.columns)
            beta = self.coef[pos : pos + width]
            x = c.encode(frame[c.name])[0]
            if c.kind == "categorical":
                log_odds = float(x @ beta)
                ref = c.reference
            else:
                lo = c.range[0] if c.range else 0.0
                x0 = c.encode(pd.Series([lo]))[0]
                log_odds = float((x - x0) @ beta)
                ref = lo
            factors.append(
                {
                    "name": c.name,
                    "value": row[c.name],
                    "reference": ref,
                    "log_odds": log_odds,
                    "effect": math.exp(log_odds),
                    "effect_measure": "odds ratio versus the reference",
                    "source": source,
                }
            )
            pos += width
        return CasePrediction(
            float(pred["probability"]),
            (float(pred["lower"]), float(pred["upper"])),
            self.horizon_months,
            self.definition,
            factors,
            notes,
            model=str(self.path) if self.path else "",
        )


def _allowed(c: PredictorCoding) -> str:
    if c.kind == "categorical":
        return ", ".join(c.levels)
    if c.range:
        return f"a number; development range {c.range[0]:g}-{c.range[1]:g}"
    return "a number"


def load_portable_model(path: str | Path) -> PortableModel:
    """Read a model file written by ``resorb cohort fit --save-model``.

    Raises
    ------
    InvalidInputError
        If the file is missing, not JSON, or not a resorb model file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            "model",
            f"cannot read {path}: {exc.strerror}",
            allowed="a model file written by 'resorb cohort fit --save-model'",
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            "model", f"{path.name} is not JSON ({exc.msg})", allowed="a resorb model file (JSON)"
        ) from None
    return PortableModel.from_dict(data, path=path)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (provenance of the development data)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def portable_from_fit(
    fit,
    *,
    definition: str | None = None,
    horizon_months: float | None = None,
    performance: dict | None = None,
    citation: dict | None = None,
    data_path: str | Path | None = None,
) -> PortableModel:
    """Build a :class:`PortableModel` from a :class:`FittedLogistic`.

    A model with interactions is refused: the model file's per-factor
    explanation and its nomogram assume additive predictors.
    """
    from resorb import __version__

    if any(c.kind == "interaction" for c in fit.codings):
        raise InvalidInputError(
            "save-model",
            "a model with interactions cannot be saved as a portable model file yet",
            allowed="a model without a*b terms",
        )
    dev = {
        "n": fit.n,
        "events": fit.events,
        "missing": fit.missing.to_dict(),
        "separation": fit.separation.to_dict(),
        "ranges": {c.name: (list(c.range) if c.range else list(c.levels)) for c in fit.codings},
    }
    prov = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "software": f"resorb {__version__}",
    }
    if data_path is not None:
        prov["data_file"] = Path(data_path).name
        prov["data_sha256"] = file_sha256(data_path)
    cite = {
        "text": "Model developed with resorb cohort fit on the data named in provenance; "
        "not externally validated."
    }
    cite.update(citation or {})
    return PortableModel(
        tuple(fit.names),
        np.asarray(fit.coef),
        np.asarray(fit.cov),
        tuple(fit.codings),
        fit.outcome,
        definition
        or f"{fit.outcome} = 1 as recorded in the development data "
        "(no definition was given when the model was saved)",
        horizon_months,
        fit.method,
        dev,
        performance or {},
        cite,
        prov,
        __version__,
    )
