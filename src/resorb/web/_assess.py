"""Assessment of a registry patient through :mod:`resorb.reports` (the CLI's own path)."""

from __future__ import annotations

import threading
import warnings
from typing import Any

from resorb.errors import MissingExtraError

__all__ = ["assess_patient", "assessment_html", "assessment_pdf"]

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


def assess_patient(registry, patient_id: int) -> tuple[Any, dict[str, Any]]:
    """Assess the patient's current case.

    Returns
    -------
    (Assessment, dict)
        The assessment object and its JSON view (the ``resorb assess --json``
        object), with the statistical caveats raised while computing it under
        ``"caveats"`` (warning class and message).
    """
    from resorb.cli._common import to_jsonable

    reports = _reports()
    case = registry.case_from_registry(patient_id)
    with _WARN_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assessment = reports.assess_case(case)
        data = to_jsonable(assessment.to_dict())
    caveats = []
    seen = set()
    for w in caught:
        key = (w.category.__name__, str(w.message))
        if key not in seen:
            seen.add(key)
            caveats.append({"kind": key[0], "message": key[1]})
    data.setdefault("caveats", caveats)
    return assessment, data


def assessment_pdf(assessment) -> bytes:
    """The assessment report as PDF bytes (WeasyPrint, via ``resorb.reports.render_pdf``)."""
    import tempfile
    from pathlib import Path

    reports = _reports()
    with tempfile.TemporaryDirectory(prefix="resorb-pdf-") as tmp:
        path = Path(tmp) / "assessment.pdf"
        with _WARN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reports.render_pdf(assessment, path)
        return path.read_bytes()


def assessment_html(assessment) -> str:
    """The assessment report as one HTML document (``resorb.reports.render_html``)."""
    reports = _reports()
    with _WARN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reports.render_html(assessment)
