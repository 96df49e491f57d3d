"""Assessment of a registry patient through :mod:`resorb.reports` (the CLI's own path)."""

from __future__ import annotations

import copy
import threading
import warnings
from typing import Any

from resorb.errors import MissingExtraError

__all__ = [
    "AssessmentCache",
    "assess_patient",
    "assess_records",
    "assessment_html",
    "assessment_pdf",
]

# warnings.catch_warnings changes process-wide state; one assessment at a time
# records its caveats, so that concurrent requests cannot swap them.
_WARN_LOCK = threading.Lock()


def _reports():
    try:
        from resorb import reports
    except ImportError as exc:  # pragma: no cover - reports ships with resorb
        raise MissingExtraError(f"resorb.reports cannot be imported: {exc}") from exc
    if not hasattr(reports, "assess_case"):
        raise MissingExtraError("resorb.reports.assess_case is not available in this build")
    return reports


class AssessmentCache:
    """Least-recently-used store of assessments keyed by (case, date).

    ``assess_case`` is deterministic for a case (seeded Monte Carlo) and a date
    (the management pathway counts days to "today"), so a repeated view of an
    unchanged record, its PDF and "store" reuse one computation. Any change to
    the record changes the case and so the key.
    """

    def __init__(self, maxsize: int) -> None:
        from collections import OrderedDict

        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)


def assess_patient(
    registry: Any, patient_id: int, *, cache: AssessmentCache | None = None
) -> tuple[Any, dict[str, Any]]:
    """Assess the patient's current case (reads the patient once, then :func:`assess_records`)."""
    return assess_records(registry.patient_records(patient_id), cache=cache)


def assess_records(
    records: Any, *, cache: AssessmentCache | None = None
) -> tuple[Any, dict[str, Any]]:
    """Assess the current case of a patient's records (``Registry.patient_records``).

    Returns
    -------
    (Assessment, dict)
        The assessment object and its JSON view (the ``resorb assess --json``
        object), with the statistical caveats raised while computing it under
        ``"caveats"`` (warning class and message).
    """
    import datetime as dt

    from resorb.registry import case_of

    reports = _reports()
    case = case_of(records)
    key = None
    if cache is not None:
        try:
            key = (case, dt.date.today())
            hash(key)
        except TypeError:  # a case holding an unhashable value is simply not cached
            key = None
        hit = cache.get(key) if key is not None else None
        if hit is not None:
            return hit[0], copy.deepcopy(hit[1])
    with _WARN_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assessment = reports.assess_case(case)
        data = assessment.to_dict()  # JSON-ready already (resorb._json.to_jsonable)
    caveats = []
    seen = set()
    for w in caught:
        tag = (w.category.__name__, str(w.message))
        if tag not in seen:
            seen.add(tag)
            caveats.append({"kind": tag[0], "message": tag[1]})
    data.setdefault("caveats", caveats)
    if cache is not None and key is not None:
        cache.put(key, (assessment, copy.deepcopy(data)))
    return assessment, data


def assessment_pdf(assessment: Any) -> bytes:
    """The assessment report as PDF bytes (``resorb.reports.render_pdf``, WeasyPrint)."""
    reports = _reports()
    with _WARN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(reports.render_pdf(assessment))


def assessment_html(assessment) -> str:
    """The assessment report as one HTML document (``resorb.reports.render_html``)."""
    reports = _reports()
    with _WARN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reports.render_html(assessment)
