"""CSV import and export of patients, visits and MRI measurements.

Three files, linked by the patient's pseudonym (database ids never leave the
registry)::

    patients.csv  pseudonym, birth_year, sex, site, onset_date
    visits.csv    pseudonym, date, leg_pain_nrs, back_pain_nrs, vas_mm, odi_answers,
                  joa_total, rmdq, motor_mrc, slr_degrees, red_flags, recurrence, notes
    mri.csv       pseudonym, date, level, source, method, volume_mm3, diameters_mm

Lists are written with ``;`` between items (``odi_answers``: ``x`` for a skipped
section; ``red_flags``; ``diameters_mm`` as AP;TR;CC); an empty cell is "not
recorded"; dates are ISO 8601; numbers are written with Python's shortest
round-tripping representation, so export -> import -> export gives the same
bytes. MRI dates are on the clinic's calendar (a DICOM import's date shift is
undone on export).

An import is one transaction: if any row fails, nothing is written and the
error names the file, row and column.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

from sqlalchemy import select

from resorb._atomic import atomic_writer
from resorb.errors import InvalidInputError
from resorb.registry import _models as m
from resorb.registry._rows import _add_visit, _create_patient, _offset
from resorb.registry._schemas import validate_input
from resorb.registry._service import Registry

__all__ = ["CSV_COLUMNS", "export_csv", "export_pseudonymised_csv", "import_csv"]

#: Column order of each file.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("pseudonym", "birth_year", "sex", "site", "onset_date"),
    "visits": (
        "pseudonym",
        "date",
        "leg_pain_nrs",
        "back_pain_nrs",
        "vas_mm",
        "odi_answers",
        "joa_total",
        "rmdq",
        "motor_mrc",
        "slr_degrees",
        "red_flags",
        "recurrence",
        "notes",
    ),
    "mri": ("pseudonym", "date", "level", "source", "method", "volume_mm3", "diameters_mm"),
}

_MRI_SOURCES = ("manual", "mask", "diameters", "dicom-seg", "dicom-series")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


#: Free-text columns: exported with spreadsheet formulas defused, read back exactly.
_TEXT_COLUMNS = frozenset({"site", "notes", "method"})
#: A cell starting with one of these is run as a formula by spreadsheet programs
#: (OWASP "CSV injection"); "'" is included so that the escape itself round-trips.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _text(value: Any) -> str:
    """A free-text cell: a leading quote makes a spreadsheet show, not run, a formula."""
    text = _fmt(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _untext(cell: str) -> str:
    """Inverse of :func:`_text` (drops the one leading quote it adds)."""
    return cell[1:] if cell.startswith("'") else cell


def _fmt_list(values: list[Any] | None, *, none_as: str = "") -> str:
    if values is None:
        return ""
    return ";".join(none_as if v is None else _fmt(v) for v in values)


def export_csv(registry: Registry, out_dir: str | Path) -> dict[str, Path]:
    """Write ``patients.csv``, ``visits.csv`` and ``mri.csv`` into ``out_dir``.

    All three files are written to temporary names first and only then
    renamed into place, so an export that fails while writing leaves the
    folder's earlier files as they were.

    Returns
    -------
    dict
        File kind -> path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[list[str]]] = {k: [] for k in CSV_COLUMNS}
    with registry.reading() as s:
        for p in s.scalars(select(m.Patient).order_by(m.Patient.pseudonym)):
            rows["patients"].append(
                [p.pseudonym, _fmt(p.birth_year), p.sex, _text(p.site), _fmt(p.onset_date)]
            )
            for v in sorted(p.visits, key=lambda v: (v.date, v.id)):
                rows["visits"].append(
                    [
                        p.pseudonym,
                        _fmt(v.date),
                        _fmt(v.leg_pain_nrs),
                        _fmt(v.back_pain_nrs),
                        _fmt(v.vas_mm),
                        _fmt_list(v.odi_answers, none_as="x"),
                        _fmt(v.joa_total),
                        _fmt(v.rmdq),
                        _fmt(v.motor_mrc),
                        _fmt(v.slr_degrees),
                        _fmt_list(v.red_flags),
                        _fmt(v.recurrence),
                        _text(v.notes),
                    ]
                )
            off = _offset(s, p.id)
            studies = []
            for r in p.mri_studies:
                date = r.date - dt.timedelta(days=off) if r.date_is_shifted else r.date
                studies.append((date, r.id, r))
            for date, _, r in sorted(studies, key=lambda t: (t[0], t[1])):
                rows["mri"].append(
                    [
                        p.pseudonym,
                        _fmt(date),
                        _fmt(r.level),
                        r.source,
                        _text(r.method),
                        _fmt(r.volume_mm3),
                        _fmt_list(r.diameters_mm),
                    ]
                )
    return _write_files(out, rows, CSV_COLUMNS)


def _write_files(
    out: Path, rows: dict[str, list[list[str]]], columns: dict[str, tuple[str, ...]]
) -> dict[str, Path]:
    """Write every file to a temporary name first, then rename them all into place.

    One :func:`resorb._atomic.atomic_writer` per file, all open together: the
    renames happen only after every file was written, so a failure while
    writing any of them leaves all earlier exports as they were.
    """
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        for kind, cols in columns.items():
            fh = stack.enter_context(atomic_writer(out / f"{kind}.csv", newline=""))
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(cols)
            w.writerows(rows[kind])
    return {kind: out / f"{kind}.csv" for kind in columns}


def export_pseudonymised_csv(
    registry: Registry, out_dir: str | Path, *, actor: str, min_site_count: int = 5
) -> dict[str, Path]:
    """Write the researcher's view (:meth:`Registry.pseudonymised_view`) as CSV.

    The same three files and columns as :func:`export_csv` except ``notes``
    (never exported here); every date is shifted by the patient's secret
    offset and ``site`` is empty where fewer than ``min_site_count`` patients
    share it.
    """
    view = registry.pseudonymised_view(actor=actor, min_site_count=min_site_count)
    columns = dict(CSV_COLUMNS)
    columns["visits"] = tuple(c for c in CSV_COLUMNS["visits"] if c != "notes")
    rows: dict[str, list[list[str]]] = {k: [] for k in columns}
    for p in sorted(view, key=lambda r: r["pseudonym"]):
        rows["patients"].append(
            [
                p["pseudonym"],
                _fmt(p["birth_year"]),
                p["sex"],
                _text(p["site"]),
                _fmt(p["onset_date"]),
            ]
        )
        for v in sorted(p["visits"], key=lambda v: v["date"]):
            rows["visits"].append(
                [
                    p["pseudonym"],
                    _fmt(v["date"]),
                    _fmt(v["leg_pain_nrs"]),
                    _fmt(v["back_pain_nrs"]),
                    _fmt(v["vas_mm"]),
                    _fmt_list(v["odi_answers"], none_as="x"),
                    _fmt(v["joa_total"]),
                    _fmt(v["rmdq"]),
                    _fmt(v["motor_mrc"]),
                    _fmt(v["slr_degrees"]),
                    _fmt_list(v["red_flags"]),
                    _fmt(v.get("recurrence")),
                ]
            )
        for r in p["mri"]:
            rows["mri"].append(
                [
                    p["pseudonym"],
                    _fmt(r["date"]),
                    _fmt(r["level"]),
                    r["source"],
                    _text(r["method"]),
                    _fmt(r["volume_mm3"]),
                    _fmt_list(r["diameters_mm"]),
                ]
            )
    return _write_files(Path(out_dir), rows, columns)


def _kind_of(path: Path, header: list[str]) -> str:
    for kind, cols in CSV_COLUMNS.items():
        if path.stem == kind or list(cols) == header:
            return kind
    raise InvalidInputError(
        f"{path.name}",
        "is not a registry CSV file",
        allowed="patients.csv, visits.csv or mri.csv with the documented columns",
    )


#: Largest CSV file imported (bytes); a software limit far above a clinic's registry.
MAX_CSV_BYTES = 64 * 1024 * 1024


def _read(path: Path) -> tuple[str, list[dict[str, str]]]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInputError(path.name, f"cannot be read ({exc.strerror})") from None
    if size > MAX_CSV_BYTES:
        raise InvalidInputError(
            path.name,
            f"is too large ({size:,} bytes)",
            allowed=f"at most {MAX_CSV_BYTES // (1024 * 1024)} MiB",
        )
    try:
        # newline="": line breaks inside a quoted cell (a note's CR LF) stay as written.
        with path.open(encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise InvalidInputError(
            path.name, "is not UTF-8 text", allowed="a UTF-8 CSV file"
        ) from None
    reader = csv.reader(io.StringIO(text))
    try:
        return _parse(path, reader)
    except csv.Error as exc:  # e.g. a bare carriage return inside an unquoted cell
        raise InvalidInputError(
            f"{path.name}:{reader.line_num}",
            f"is not valid CSV ({exc})",
            allowed="quote cells that hold line breaks",
        ) from None


def _parse(path: Path, reader: Any) -> tuple[str, list[dict[str, str]]]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInputError(path.name, "is empty", allowed="a header row") from None
    kind = _kind_of(path, header)
    expected = CSV_COLUMNS[kind]
    unknown = [h for h in header if h not in expected]
    if unknown:
        raise InvalidInputError(
            f"{path.name}.{unknown[0]}", "is not a known column", allowed=", ".join(expected)
        )
    if "pseudonym" not in header:
        raise InvalidInputError(f"{path.name}.pseudonym", "column missing")
    rows = []
    for n, raw in enumerate(reader, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(header):
            raise InvalidInputError(
                f"{path.name}:{n}",
                f"has {len(raw)} cells",
                allowed=f"{len(header)} cells, one per column",
            )
        rows.append(
            {h: _untext(c) if h in _TEXT_COLUMNS else c for h, c in zip(header, raw, strict=True)}
            | {"__row__": str(n)}
        )
    return kind, rows


def _none(cell: str | None) -> str | None:
    if cell is None:
        return None
    cell = cell.strip()
    return cell or None


def _split(cell: str | None) -> list[str] | None:
    cell = _none(cell)
    return None if cell is None else [c.strip() for c in cell.split(";")]


def _number(cell: str | None, where: str) -> float | None:
    cell = _none(cell)
    if cell is None:
        return None
    try:
        x = float(cell)
    except ValueError:
        raise InvalidInputError(where, f"{cell!r} is not a number") from None
    if not math.isfinite(x):
        raise InvalidInputError(where, f"{cell!r} is not a finite number")
    return x


def _integer(cell: str | None, where: str) -> int | None:
    cell = _none(cell)
    if cell is None:
        return None
    try:
        return int(cell)
    except ValueError:
        raise InvalidInputError(where, f"{cell!r} is not a whole number") from None


def _yes_no(cell: str | None, where: str) -> bool | None:
    """``true``/``false`` as exported (``yes``/``no`` accepted); empty = not recorded."""
    cell = _none(cell)
    if cell is None:
        return None
    value = {"true": True, "yes": True, "false": False, "no": False}.get(cell.lower())
    if value is None:
        raise InvalidInputError(
            where, f"{cell!r} is not true or false", allowed="true, false (or yes, no), or empty"
        )
    return value


def _patient_id(s, pseudonym: str | None, where: str, created: dict[str, int]) -> int:
    if not pseudonym:
        raise InvalidInputError(f"{where}.pseudonym", "is empty")
    if pseudonym in created:
        return created[pseudonym]
    pid = s.scalar(select(m.Patient.id).where(m.Patient.pseudonym == pseudonym))
    if pid is None:
        raise InvalidInputError(
            f"{where}.pseudonym",
            f"{pseudonym!r} is not in the registry",
            allowed="a pseudonym from patients.csv or already registered",
        )
    created[pseudonym] = pid
    return pid


def import_csv(registry: Registry, path: str | Path, *, actor: str) -> dict[str, int]:
    """Import ``patients.csv``, ``visits.csv`` and/or ``mri.csv``.

    Parameters
    ----------
    registry : Registry
    path : str or Path
        A folder holding any of the three files, or one file (its kind is
        recognised by name or header).
    actor : str
        Acting user for the audit log.

    Returns
    -------
    dict
        Rows imported per kind.

    Raises
    ------
    InvalidInputError
        Naming ``file:row.column``; nothing is imported then.
    """
    from resorb.registry._schemas import MRIIn

    src = Path(path)
    if src.is_dir():
        files = [src / f"{k}.csv" for k in CSV_COLUMNS if (src / f"{k}.csv").is_file()]
        if not files:
            raise InvalidInputError(
                "path",
                f"{src} holds no registry CSV file",
                allowed="patients.csv, visits.csv, mri.csv",
            )
    elif src.is_file():
        files = [src]
    else:
        raise InvalidInputError("path", f"{src} does not exist", allowed="a CSV file or folder")
    parsed = dict(_read(f) for f in files)
    counts = {k: 0 for k in CSV_COLUMNS}
    with registry.transaction(actor=actor) as s:
        ids: dict[str, int] = {}
        for row in parsed.get("patients", []):
            where = f"patients.csv:{row['__row__']}"
            data = {k: _none(row.get(k)) for k in CSV_COLUMNS["patients"]}
            data["birth_year"] = _integer(row.get("birth_year"), f"{where}.birth_year")
            data = {k: v for k, v in data.items() if v is not None}
            p = _create_patient(s, data, field=where)
            ids[p.pseudonym] = p.id
            counts["patients"] += 1
        for row in parsed.get("visits", []):
            where = f"visits.csv:{row['__row__']}"
            pid = _patient_id(s, _none(row.get("pseudonym")), where, ids)
            odi = _split(row.get("odi_answers"))
            data: dict[str, Any] = {
                "date": _none(row.get("date")),
                "leg_pain_nrs": _number(row.get("leg_pain_nrs"), f"{where}.leg_pain_nrs"),
                "back_pain_nrs": _number(row.get("back_pain_nrs"), f"{where}.back_pain_nrs"),
                "vas_mm": _number(row.get("vas_mm"), f"{where}.vas_mm"),
                "odi_answers": None
                if odi is None
                else [
                    None if a.lower() in ("x", "") else _integer(a, f"{where}.odi_answers")
                    for a in odi
                ],
                "joa_total": _integer(row.get("joa_total"), f"{where}.joa_total"),
                "rmdq": _integer(row.get("rmdq"), f"{where}.rmdq"),
                "motor_mrc": _integer(row.get("motor_mrc"), f"{where}.motor_mrc"),
                "slr_degrees": _number(row.get("slr_degrees"), f"{where}.slr_degrees"),
                "red_flags": _split(row.get("red_flags")) or [],
                "recurrence": _yes_no(row.get("recurrence"), f"{where}.recurrence"),
                "notes": row.get("notes") or None,
            }
            _add_visit(s, pid, {k: v for k, v in data.items() if v is not None}, field=where)
            counts["visits"] += 1
        for row in parsed.get("mri", []):
            where = f"mri.csv:{row['__row__']}"
            pid = _patient_id(s, _none(row.get("pseudonym")), where, ids)
            source = _none(row.get("source")) or "manual"
            if source not in _MRI_SOURCES:
                raise InvalidInputError(
                    f"{where}.source", f"{source!r}", allowed=", ".join(_MRI_SOURCES)
                )
            volume = _number(row.get("volume_mm3"), f"{where}.volume_mm3")
            diam = _split(row.get("diameters_mm"))
            diameters = (
                None if diam is None else [_number(d, f"{where}.diameters_mm") for d in diam]
            )
            if source == "diameters":
                mri = _validated(
                    MRIIn,
                    {
                        "date": _none(row.get("date")),
                        "source": source,
                        "diameters_mm": diameters,
                        "level": _none(row.get("level")),
                        "method": _none(row.get("method")),
                    },
                    where,
                )
                computed = mri.computed_volume_mm3
                if volume is not None and not math.isclose(
                    volume, computed, rel_tol=1e-9, abs_tol=1e-9
                ):
                    raise InvalidInputError(
                        f"{where}.volume_mm3",
                        f"{volume} does not match the diameters ({computed:.6g} mm3)",
                        allowed="leave it empty or give pi/6*AP*TR*CC",
                    )
            else:
                if diameters is not None:
                    raise InvalidInputError(
                        f"{where}.diameters_mm", "given for a source other than 'diameters'"
                    )
                if source == "dicom-series" and volume is None:
                    mri = _validated(
                        MRIIn,
                        {
                            "date": _none(row.get("date")),
                            "source": "manual",
                            "volume_mm3": 0.0,
                            "level": _none(row.get("level")),
                        },
                        where,
                    )
                else:
                    mri = _validated(
                        MRIIn,
                        {
                            "date": _none(row.get("date")),
                            "source": "manual" if source.startswith("dicom") else source,
                            "volume_mm3": volume,
                            "level": _none(row.get("level")),
                            "method": _none(row.get("method")),
                        },
                        where,
                    )
                computed = volume
            s.add(
                m.MRIStudy(
                    patient_id=pid,
                    date=mri.date,
                    date_is_shifted=False,
                    level=mri.level,
                    source=source,
                    method=_none(row.get("method"))
                    or (mri.computed_method if not source.startswith("dicom") else None),
                    volume_mm3=computed,
                    diameters_mm=diameters,
                )
            )
            s.flush()
            counts["mri"] += 1
    return counts


def _validated(model, data: dict[str, Any], where: str):
    return validate_input(model, {k: v for k, v in data.items() if v is not None}, field=where)
