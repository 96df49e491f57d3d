"""Reading a cohort table and coding its predictors.

One row per herniation. Columns named like the case-file keys are mapped
through the domain enums (``morphology``, ``rim_enhancement``, ``modic``...),
so a cohort and a case file speak the same vocabulary. Every predictor gets an
explicit coding (:class:`PredictorCoding`) that is stored with a fitted model
and rebuilt identically when the model is applied to new data.

Predictor specifications
------------------------
``name``                 numeric column as is; enum or text column as categorical
``name:rcs`` / ``:rcsK`` restricted cubic spline with K knots (default 4; 3-7)
``name:cat``             force a numeric column to be categorical
``name:ref=LEVEL``       categorical with LEVEL as the reference level
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd

from resorb.cohort._splines import rcs_basis, rcs_knots
from resorb.domain import FINDING_ENUMS, Sex, parse_enum
from resorb.errors import InvalidInputError

__all__ = [
    "COLUMN_ENUMS",
    "MissingReport",
    "PredictorCoding",
    "PredictorSpec",
    "code_predictors",
    "data_specs",
    "design_matrix",
    "parse_predictor_specs",
    "prepare_columns",
    "read_cohort",
]

#: Cohort columns that are case-file findings, and the scale each is read on.
COLUMN_ENUMS: dict[str, type[Enum]] = {"sex": Sex, **FINDING_ENUMS}

_SPEC_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?::(?P<opt>.+))?$")
_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
_INTERACTION_RE = re.compile(
    rf"^(?P<aopt>(?P<a>{_NAME})(?::[^*]+)?)\s*\*\s*"
    rf"(?P<bopt>(?P<b>{_NAME})(?::[^*]+)?)$"
)


@dataclass(frozen=True, slots=True)
class PredictorSpec:
    """What the user asked for one predictor (before looking at the data)."""

    name: str
    spline_knots: int | None = None
    categorical: bool = False
    reference: str | None = None
    components: tuple[str, ...] = ()  # an interaction "a*b": the two predictors


def parse_predictor_specs(
    predictors: Sequence[str] | str, *, splines: Sequence[str] = ()
) -> tuple[PredictorSpec, ...]:
    """Parse ``"age_years:rcs4,morphology:ref=protrusion"`` into specs.

    ``splines`` lists extra ``NAME`` or ``NAME:K`` items that request a
    restricted cubic spline for a predictor already listed. ``a*b`` adds the
    interaction of two predictors (every design column of one times every
    column of the other, as R's ``a*b``); their main effects are added when
    not listed, and interactions come after all main effects.
    """
    if isinstance(predictors, str):
        predictors = [p for p in (s.strip() for s in predictors.split(",")) if p]
    if not predictors:
        raise InvalidInputError(
            "predictors", "no predictor given", allowed="a comma-separated list of column names"
        )
    specs: dict[str, PredictorSpec] = {}
    pairs: list[tuple[str, str]] = []
    items: list[str] = []
    for item in predictors:
        if im := _INTERACTION_RE.match(item.strip()):
            a, b = im["a"], im["b"]
            for side in (im["aopt"], im["bopt"]):
                if ":" in side:  # "age:rcs3*albumin": the option belongs to the main effect
                    items.append(side)
            if a == b or (a, b) in pairs or (b, a) in pairs:
                raise InvalidInputError(
                    "predictors",
                    f"interaction {item!r} repeated or of a predictor with itself",
                    allowed="a*b, a != b",
                )
            pairs.append((a, b))
        else:
            items.append(item)
    for item in items:
        m = _SPEC_RE.match(item.strip())
        if not m:
            raise InvalidInputError(
                "predictors",
                f"cannot read {item!r}",
                allowed="NAME, NAME:rcs[3-7], NAME:cat, NAME:ref=LEVEL, NAME*NAME",
            )
        name, opt = m["name"], m["opt"]
        spec = PredictorSpec(name)
        if opt:
            if sm := re.fullmatch(r"rcs([3-7])?", opt):
                spec = PredictorSpec(name, spline_knots=int(sm[1] or 4))
            elif opt == "cat":
                spec = PredictorSpec(name, categorical=True)
            elif opt.startswith("ref="):
                spec = PredictorSpec(name, categorical=True, reference=opt[4:])
            else:
                raise InvalidInputError(
                    f"predictors.{name}",
                    f"unknown option {opt!r}",
                    allowed="rcs, rcs3-rcs7, cat, ref=LEVEL",
                )
        if name in specs:
            raise InvalidInputError(
                f"predictors.{name}", "listed twice", allowed="each predictor once"
            )
        specs[name] = spec
    for item in splines:
        name, _, k = item.strip().partition(":")
        if name not in specs:
            raise InvalidInputError(
                "spline", f"{name!r} is not among the predictors", allowed=", ".join(specs)
            )
        if k and k not in {"3", "4", "5", "6", "7"}:
            raise InvalidInputError("spline", f"{k!r} knots for {name}", allowed="3-7 knots")
        specs[name] = PredictorSpec(name, spline_knots=int(k or 4))
    for a, b in pairs:
        for name in (a, b):
            specs.setdefault(name, PredictorSpec(name))
    for a, b in pairs:
        specs[f"{a}*{b}"] = PredictorSpec(f"{a}*{b}", components=(a, b))
    return tuple(specs.values())


def read_cohort(path: str | Path) -> pd.DataFrame:
    """Read a cohort table (``.csv`` or ``.parquet``), one row per herniation.

    Raises
    ------
    InvalidInputError
        If the suffix is neither, or the file cannot be parsed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise InvalidInputError("cohort", f"{path} does not exist", allowed="an existing file")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, skipinitialspace=True)
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InvalidInputError(
            "cohort", f"cannot read {path.name}: {exc}", allowed="a CSV or Parquet table"
        ) from exc
    raise InvalidInputError("cohort", f"unsupported file type {suffix!r}", allowed=".csv, .parquet")


def _require_column(df: pd.DataFrame, name: str, role: str) -> None:
    if name not in df.columns:
        raise InvalidInputError(
            name, f"no such column ({role})", allowed=", ".join(map(str, df.columns))
        )


def _canonical(series: pd.Series, enum: type[Enum], column: str) -> pd.Series:
    """Map a column through a domain enum; missing stays missing."""
    out = []
    for i, value in series.items():
        if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
            out.append(None)
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        try:
            out.append(str(parse_enum(enum, value, field=column).value))
        except InvalidInputError as exc:
            raise InvalidInputError(
                column, f"row {i + 1}: {value!r} is not a valid value", allowed=exc.allowed
            ) from None
    return pd.Series(out, index=series.index, dtype=object)


def prepare_columns(df: pd.DataFrame, specs: Sequence[PredictorSpec]) -> pd.DataFrame:
    """Check and normalise the predictor columns of ``df``.

    Enum columns become the scale's canonical values (text); numeric columns
    become float; other text columns stay text (categorical). Empty cells are
    missing.
    """
    out = {}
    for spec in specs:
        if spec.components:
            continue  # an interaction has no column of its own
        _require_column(df, spec.name, "predictor")
        col = df[spec.name]
        if spec.name in COLUMN_ENUMS:
            if spec.spline_knots:
                raise InvalidInputError(
                    spec.name, "a spline needs a continuous column", allowed="a numeric predictor"
                )
            try:
                out[spec.name] = _canonical(col, COLUMN_ENUMS[spec.name], spec.name)
                continue
            except InvalidInputError as exc:
                if not spec.categorical:  # NAME:cat reads a clinic's own codes (1/2, F/M)
                    raise InvalidInputError(
                        exc.field,
                        exc.message,
                        allowed=f"{exc.allowed}; or {spec.name}:cat for the clinic's own "
                        "codes (e.g. 1/2)",
                    ) from None
        if spec.name in COLUMN_ENUMS:
            out[spec.name] = _codes(col)
        elif pd.api.types.is_bool_dtype(col) or (
            pd.api.types.is_numeric_dtype(col) and not spec.categorical
        ):
            out[spec.name] = col.astype(float)
        elif not spec.categorical and _all_numeric(col):
            out[spec.name] = pd.to_numeric(
                col.map(lambda v: np.nan if v is None or str(v).strip() == "" else v)
            ).astype(float)
        else:
            if spec.spline_knots:
                raise InvalidInputError(
                    spec.name, "a spline needs a continuous column", allowed="a numeric predictor"
                )
            out[spec.name] = _codes(col)
    return pd.DataFrame(out, index=df.index)


def _codes(col: pd.Series) -> pd.Series:
    """Category codes as text (1.0 -> "1"); empty cells missing."""
    text = col.map(
        lambda v: (
            None
            if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""
            else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip())
        )
    )
    return text.astype(object)


@dataclass(frozen=True, slots=True)
class MissingReport:
    """Missing values per column and how they were handled."""

    n_rows: int
    n_complete: int
    by_column: dict[str, int] = field(default_factory=dict)
    handling: str = "complete cases"

    def to_dict(self) -> dict:
        return {
            "n_rows": self.n_rows,
            "n_complete": self.n_complete,
            "by_column": dict(self.by_column),
            "handling": self.handling,
        }


@dataclass(frozen=True, slots=True)
class PredictorCoding:
    """How one predictor becomes design-matrix columns.

    Attributes
    ----------
    name : str
        Column name in the cohort (and the case-file key it maps to).
    kind : {"numeric", "categorical", "rcs", "interaction"}
    columns : tuple of str
        Names of the design columns (``morphology[extrusion]``, ``age_years'``...).
    levels : tuple of str
        Categorical levels in coding order, the reference first.
    reference : str or None
    knots : tuple of float
        Spline knots (``kind == "rcs"``).
    range : tuple of float or None
        Development range (min, max) of a numeric predictor.
    scale : str or None
        Name of the domain enum the values were read on.
    components : tuple of str
        The two predictors of an interaction (``kind == "interaction"``); its
        columns are the products of theirs, built by :func:`design_matrix`.
    values : tuple of float
        The distinct values of a numeric predictor with at most 10 of them.
    """

    name: str
    kind: str
    columns: tuple[str, ...]
    levels: tuple[str, ...] = ()
    reference: str | None = None
    knots: tuple[float, ...] = ()
    range: tuple[float, float] | None = None
    scale: str | None = None
    components: tuple[str, ...] = ()
    values: tuple[float, ...] = ()

    def encode(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Design columns for ``values`` (already normalised), shape (n, len(columns))."""
        if self.kind == "categorical":
            vals = np.asarray(values, dtype=object)
            unknown = {v for v in vals if v is not None and v not in self.levels}
            if unknown:
                first = sorted(map(str, unknown))[0]
                raise InvalidInputError(
                    self.name, f"unknown category {first!r}", allowed=", ".join(self.levels)
                )
            return (
                np.column_stack([(vals == lev).astype(float) for lev in self.levels[1:]])
                if len(self.levels) > 1
                else np.zeros((len(vals), 0))
            )
        x = np.asarray(values, dtype=float)
        if self.kind == "rcs":
            return rcs_basis(x, np.asarray(self.knots))
        return x[:, None]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "columns": list(self.columns),
            "levels": list(self.levels),
            "reference": self.reference,
            "knots": list(self.knots),
            "range": list(self.range) if self.range is not None else None,
            "scale": self.scale,
            "components": list(self.components),
            "values": list(self.values),
        }

    @classmethod
    def from_dict(cls, d: dict) -> PredictorCoding:
        return cls(
            name=d["name"],
            kind=d["kind"],
            columns=tuple(d["columns"]),
            levels=tuple(d.get("levels") or ()),
            reference=d.get("reference"),
            knots=tuple(d.get("knots") or ()),
            range=tuple(d["range"]) if d.get("range") is not None else None,
            scale=d.get("scale"),
            components=tuple(d.get("components") or ()),
            values=tuple(d.get("values") or ()),
        )


def _level_order(spec: PredictorSpec, observed: list[str], *, on_scale: bool = True) -> list[str]:
    enum = COLUMN_ENUMS.get(spec.name) if on_scale else None
    if enum is not None:
        order = [str(m.value) for m in enum if str(m.value) in observed]
    else:
        order = sorted(observed, key=lambda s: (not _is_number(s), _num(s), s))
    if spec.reference is not None:
        ref = spec.reference
        if enum is not None:
            ref = str(parse_enum(enum, ref, field=f"{spec.name}.reference").value)
        if ref not in order:
            raise InvalidInputError(
                f"{spec.name}.reference",
                f"{spec.reference!r} is not observed",
                allowed=", ".join(order),
            )
        order.remove(ref)
        order.insert(0, ref)
    return order


def _all_numeric(col: pd.Series) -> bool:
    """True when every non-missing cell of an object column reads as a number."""
    vals = [
        v
        for v in col
        if v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v).strip() != ""
    ]
    return bool(vals) and all(_is_number(str(v)) for v in vals)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _num(s: str) -> float:
    return float(s) if _is_number(s) else 0.0


def code_predictors(
    frame: pd.DataFrame, specs: Sequence[PredictorSpec]
) -> tuple[PredictorCoding, ...]:
    """Fix the coding of each predictor from the (complete-case) development data."""
    codings = []
    for spec in specs:
        if spec.components:
            continue
        col = frame[spec.name]
        scale = COLUMN_ENUMS[spec.name].__name__ if spec.name in COLUMN_ENUMS else None
        if col.dtype == object:
            observed = sorted({v for v in col if v is not None})
            if scale and not set(observed) <= {str(e.value) for e in COLUMN_ENUMS[spec.name]}:
                scale = None  # NAME:cat with the clinic's own codes, not the domain scale
            levels = _level_order(spec, observed, on_scale=scale is not None)
            if len(levels) < 2:
                raise InvalidInputError(
                    spec.name,
                    f"has a single category {levels!r}",
                    allowed="at least two observed categories",
                )
            codings.append(
                PredictorCoding(
                    spec.name,
                    "categorical",
                    tuple(f"{spec.name}[{lev}]" for lev in levels[1:]),
                    levels=tuple(levels),
                    reference=levels[0],
                    scale=scale,
                )
            )
            continue
        x = col.to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        rng = (float(x.min()), float(x.max()))
        if spec.spline_knots:
            try:
                knots = rcs_knots(x, n_knots=spec.spline_knots)
            except ValueError as exc:
                raise InvalidInputError(
                    spec.name, str(exc), allowed="fewer knots or a more continuous predictor"
                ) from None
            # rms may place fewer knots than asked (ties); the design follows
            names = (spec.name, *(spec.name + "'" * (j + 1) for j in range(len(knots) - 2)))
            codings.append(
                PredictorCoding(
                    spec.name, "rcs", names, knots=tuple(float(k) for k in knots), range=rng
                )
            )
        else:
            if np.unique(x).size < 2:
                raise InvalidInputError(spec.name, "is constant", allowed="a varying predictor")
            distinct = np.unique(x)
            # rms datadist keeps the values of a numeric predictor with <= 10 of
            # them (the nomogram draws those, not a scale)
            codings.append(
                PredictorCoding(
                    spec.name,
                    "numeric",
                    (spec.name,),
                    range=rng,
                    values=tuple(float(v) for v in distinct) if distinct.size <= 10 else (),
                )
            )
    by_name = {c.name: c for c in codings}
    for spec in specs:
        if spec.components:
            a, b = (by_name[n] for n in spec.components)
            codings.append(
                PredictorCoding(
                    spec.name,
                    "interaction",
                    tuple(f"{x} * {y}" for x in a.columns for y in b.columns),
                    components=spec.components,
                )
            )
    return tuple(codings)


def design_matrix(frame: pd.DataFrame, codings: Sequence[PredictorCoding]) -> np.ndarray:
    """Design matrix without intercept, shape (n, sum of coding widths).

    An interaction's columns are the products of its two predictors' columns
    (which come before it).
    """
    blocks: dict[str, np.ndarray] = {}
    for c in codings:
        if c.kind == "interaction":
            a, b = (blocks[n] for n in c.components)
            blocks[c.name] = (a[:, :, None] * b[:, None, :]).reshape(len(frame), -1)
        else:
            blocks[c.name] = c.encode(frame[c.name])
    return np.hstack(list(blocks.values())) if blocks else np.zeros((len(frame), 0))


def data_specs(codings: Sequence[PredictorCoding]) -> list[PredictorSpec]:
    """The columns a fitted coding reads (for :func:`prepare_columns` on new data)."""
    return [
        PredictorSpec(c.name, categorical=c.kind == "categorical")
        for c in codings
        if c.kind != "interaction"
    ]


def column_names(codings: Sequence[PredictorCoding]) -> list[str]:
    return [name for c in codings for name in c.columns]


def read_binary_outcome(df: pd.DataFrame, outcome: str) -> pd.Series:
    """The outcome column as float 0/1 with NaN for missing; checks it is binary."""
    _require_column(df, outcome, "outcome")
    col = df[outcome]
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    mapped = col.map(lambda v: {"true": 1.0, "false": 0.0}.get(str(v).strip().lower(), v))
    try:
        y = pd.to_numeric(mapped, errors="raise").astype(float)
    except (ValueError, TypeError):
        bad = next(
            v
            for v in col
            if not _is_number(str(v)) and str(v).lower() not in {"true", "false", "nan", ""}
        )
        raise InvalidInputError(
            outcome, f"value {bad!r} is not binary", allowed="0/1 (or true/false)"
        ) from None
    values = set(np.unique(y[~y.isna()]))
    if not values <= {0.0, 1.0}:
        shown = ", ".join(f"{float(v):g}" for v in sorted(values)[:5])
        raise InvalidInputError(
            outcome, f"has values [{shown}], not binary", allowed="0/1 (or true/false)"
        )
    return y
