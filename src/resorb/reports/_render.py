"""Render an :class:`~resorb.reports.Assessment` as self-contained HTML or PDF.

The HTML has inline CSS and the plots as inline PNG (``data:`` URIs), so the
file can be mailed or archived alone; the PDF is WeasyPrint's rendering of the
same HTML (``report`` extra).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from resorb._atomic import write_atomic  # re-exported: one atomic writer for all of resorb
from resorb.errors import require_extra
from resorb.reports._assessment import Assessment
from resorb.reports._plots import factor_plot_png, volume_plot_png
from resorb.reports._sections import AssessmentView

__all__ = ["render_html", "render_pdf", "write_atomic"]

_TEMPLATE = "assessment.html.j2"


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("resorb.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def change_in_words(resorption_percent: float | None) -> str:
    """A measured change of volume against the first MRI in words: ``"shrank by 51 %"``,
    ``"grew by 125 %"``, ``"no change"`` (a signed resorption percentage, where
    shrinkage is positive, reads as growth to a clinician); ``"—"`` when there is none."""
    if resorption_percent is None:
        return "\u2014"
    pct = round(float(resorption_percent))
    if pct > 0:
        return f"shrank by {pct} %"
    if pct < 0:
        return f"grew by {-pct} %"
    return "no change"


def format_percent(p: float | None) -> str:
    """A probability (0-1) as a whole percentage for clinicians: ``"< 1 %"``,
    ``"> 99 %"`` at the ends, ``"—"`` when there is none."""
    if p is None:
        return "—"
    x = 100.0 * float(p)
    if 0 < x < 1:
        return "< 1 %"
    if 99 < x < 100:
        return "> 99 %"
    return f"{x:.0f} %"


def _link(citation: Mapping[str, Any] | None) -> tuple[str, str] | None:
    if not citation:
        return None
    if citation.get("doi"):
        return f"doi:{citation['doi']}", f"https://doi.org/{citation['doi']}"
    if citation.get("pmid"):
        return (f"PMID {citation['pmid']}", f"https://pubmed.ncbi.nlm.nih.gov/{citation['pmid']}/")
    if citation.get("url"):
        return str(citation["url"]), str(citation["url"])
    return None


def _links(citations: Iterable[Mapping[str, Any] | None]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for c in citations:
        link = _link(c)
        if link and link not in out:
            out.append(link)
    return out


def _ref_lookup(sources: Iterable[Mapping[str, Any]]) -> Callable[[Any], int | None]:
    index: dict[str, int] = {}
    for s in sources:
        for kind in ("doi", "pmid", "url"):
            if s.get(kind):
                index[f"{kind}:{str(s[kind]).lower()}"] = s["n"]

    def ref(citation: Any) -> int | None:
        if not isinstance(citation, Mapping):
            return None
        for kind in ("doi", "pmid", "url"):
            if citation.get(kind):
                n = index.get(f"{kind}:{str(citation[kind]).lower()}")
                if n:
                    return n
        return None

    return ref


def _next_step(management: Mapping[str, Any]) -> Mapping[str, Any] | None:
    steps = list(management.get("steps", []))
    # Growth beyond measurement error with persisting symptoms comes before any MRI step.
    for s in steps:
        if s.get("code") == "discuss_surgery_after_growth":
            return s
    for wanted in ("due", "upcoming"):
        for s in steps:
            if s.get("status") == wanted:
                return s
    dated = [s for s in steps if s.get("offset_days") not in (None, 0)]
    if management.get("pathway") == "urgent_referral" and steps:
        return steps[0]
    return dated[0] if dated and not any(s.get("status") for s in steps) else None


_WITHHELD_REASON = {
    "emergency": "suspected cauda equina syndrome needs emergency MRI and, if it shows "
    "compression, decompression; a resorption estimate does not apply.",
    "urgent": "a severe or progressive motor deficit needs urgent surgical assessment; a "
    "resorption estimate does not apply until then.",
    "investigate": "red flags of serious spinal pathology need investigation first; a "
    "resorption estimate assumes the symptoms come from the disc herniation.",
}

_FIELD_WORDS = {
    "symptoms.onset_date": "Symptom onset date",
    "symptoms.red_flags": "Red flags",
    "symptoms.motor_mrc": "Motor grade",
    "herniation.canal_compromise_percent": "Canal compromise",
    "herniation.schizas": "Schizas grade",
    "herniation.msu": "MSU class",
}
_MRI_WORDS = {
    "volume_mm3": "volume",
    "diameters_mm": "diameters",
    "mask": "mask",
    "label": "mask label",
}


def _field_label(field: str) -> str:
    """The case-file field in clinical words (``mri[1].diameters_mm`` -> ``MRI 2 diameters``)."""
    if field in _FIELD_WORDS:
        return _FIELD_WORDS[field]
    if field.startswith("mri[") and "]" in field:
        index, _, rest = field[4:].partition("]")
        if index.isdigit():
            what = _MRI_WORDS.get(rest.lstrip("."), rest.lstrip(".").replace("_", " "))
            return f"MRI {int(index) + 1} {what}".strip()
    return field.replace("_", " ")


def render_html(assessment: Assessment | Mapping[str, Any]) -> str:
    """The assessment as one self-contained HTML page.

    Parameters
    ----------
    assessment : Assessment or mapping
        An :class:`Assessment` or its ``to_dict()`` (e.g. stored by the registry).

    Returns
    -------
    str
        HTML5 with inline CSS and plots: key answer first (probability with its
        interval, triage, forecast, next step), then findings, volumes,
        forecast, factors, management, therapies, scores and the numbered
        sources with DOI/PMID links; the disclaimer at the top and the end.
    """
    if isinstance(assessment, Assessment):
        # The template reads attributes of the typed sections; the summaries and the
        # plots use the JSON view.
        a = assessment.to_dict()
        view: Any = AssessmentView(assessment, a)
        r, f, m = assessment.resorption, assessment.forecast, view.management
    else:  # a stored assessment: the same attribute names as JSON keys
        a = dict(assessment)
        view = a
        r, f, m = a["resorption"], a["forecast"], a["management"]
    withheld = bool(a["resorption"].get("withheld"))
    # Beside an emergency or urgent referral: no percentage, no forecast band, no factor plot.
    volume = None if withheld else volume_plot_png(a["forecast"], a["measurements"])
    factors = None if withheld else factor_plot_png(a["resorption"])
    level = next((row["value"] for row in a["case"]["herniation"] if row["field"] == "level"), "")
    morphology = next(
        (row["value"] for row in a["case"]["herniation"] if row["field"] == "morphology"), ""
    )
    forecast_citations = []
    if a["forecast"].get("available"):
        for s in a["forecast"]["prior"]["sources"]:
            forecast_citations.extend(s.get("citations", []))
    mdc_citations = [s for s in a["sources"] if "measurement error" in s["used_for"]]
    template = _environment().get_template(_TEMPLATE)
    return template.render(
        a=view,
        r=r,
        f=f,
        m=m,
        c={"level": level, "morphology": morphology},
        pct=format_percent,
        change_words=change_in_words,
        ref=_ref_lookup(a["sources"]),
        links=_links,
        volume_png=base64.b64encode(volume).decode("ascii") if volume else None,
        factor_png=base64.b64encode(factors).decode("ascii") if factors else None,
        next_step=_next_step(a["management"]),
        forecast_citations=forecast_citations,
        mdc_citations=mdc_citations,
        withheld=withheld,
        withheld_reason=_WITHHELD_REASON.get(a["triage"].get("level"), _WITHHELD_REASON["urgent"]),
        warnings=list(a.get("warnings") or []),
        field_label=_field_label,
    )


def render_pdf(
    assessment: Assessment | Mapping[str, Any], path: str | os.PathLike[str] | None = None
) -> bytes:
    """The assessment as PDF (WeasyPrint from :func:`render_html`).

    Parameters
    ----------
    assessment : Assessment or mapping
    path : path-like, optional
        Where to write the PDF; written atomically (temporary file, then
        rename), so a failed write leaves no partial file.

    Returns
    -------
    bytes
        The PDF document.
    """
    weasyprint = require_extra("weasyprint", "report")
    html = render_html(assessment)
    pdf = weasyprint.HTML(string=html).write_pdf()
    if path is not None:
        write_atomic(path, pdf)
    return pdf
