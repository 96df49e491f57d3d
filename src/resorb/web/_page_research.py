"""Pages: the research (pseudonymised) view and the cohort dashboard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from resorb.web._auth import Principal
from resorb.web._pages import (
    User,
    render,
    state,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _research_rows(request: Request, user: Principal) -> list[dict[str, Any]]:
    """The whole pseudonymised registry (for the list and the cohort dashboard)."""
    return state(request).registry.pseudonymised_view(actor=user.username)


#: Patients per page of the research list.
RESEARCH_PAGE_SIZE = 100


@router.get("/research/patients")
def research_list(
    request: Request,
    user: User,
    q: str | None = None,
    page: Annotated[int, Query(ge=1, le=10**9)] = 1,
) -> HTMLResponse:
    reg = state(request).registry
    search = (q or "").strip()[:64] or None
    total = reg.research_count(search=search)
    rows = reg.pseudonymised_view(
        actor=user.username,
        limit=RESEARCH_PAGE_SIZE,
        offset=(page - 1) * RESEARCH_PAGE_SIZE,
        search=search,
    )
    pages = max(1, -(-total // RESEARCH_PAGE_SIZE))
    return render(
        request,
        "research_list.html",
        {
            "rows": rows,
            "q": q or "",
            "page": page,
            "pages": pages,
            "total": total,
            "nav": "patients",
        },
        user=user,
    )


@router.get("/research/patients/{pseudonym}")
def research_patient(request: Request, user: User, pseudonym: str) -> HTMLResponse:
    from resorb.registry import resorption_between
    from resorb.web._plots import svg_data_uri, volume_course_svg

    row = state(request).registry.pseudonymised_patient(pseudonym, actor=user.username)
    if row is None:
        raise HTTPException(status_code=404, detail=f"No patient {pseudonym!r}.")
    mri = []
    base: dict[Any, Any] = {}
    for m in row["mri"]:
        item = dict(m)
        if m["volume_mm3"] is not None:
            b = base.setdefault(m["level"], m)
            item["days_since_baseline"] = (m["date"] - b["date"]).days
            if b is not m:
                item.update(resorption_between(b["volume_mm3"], m["volume_mm3"]))
        mri.append(item)
    obs = [(m["date"], m["volume_mm3"]) for m in row["mri"] if m["volume_mm3"] is not None]
    plot = svg_data_uri(volume_course_svg(obs)) if obs else None
    return render(
        request,
        "research_patient.html",
        {"r": row, "mri": mri, "plot": plot, "nav": "patients"},
        user=user,
    )


@router.get("/cohort")
def cohort(request: Request, user: User) -> HTMLResponse:
    return render(
        request, "cohort.html", _cohort_context(request, user) | {"nav": "cohort"}, user=user
    )


def _cohort_context(request: Request, user: Principal) -> dict[str, Any]:
    """The dashboard's summary and plots, computed once per state of the registry.

    The dashboard summarises every patient, so it is kept (one entry per app)
    until the registry changes: any write adds an audit entry, and the newest
    audit id is the key. A view of an unchanged registry reads one number.
    """
    from resorb.web._cohort import summarise_cohort
    from resorb.web._plots import km_by_group_svg, resorption_by_group_svg, svg_data_uri

    reg = state(request).registry
    app_state = request.app.state
    cached = getattr(app_state, "resorb_cohort", None)
    marker = reg.change_marker()
    if cached is not None and cached[0] == marker:
        return cached[1]
    summary = summarise_cohort(_research_rows(request, user))
    km = summary.kaplan_meier()
    plots = {}
    if summary.resorption_percent:
        plots["resorption"] = svg_data_uri(resorption_by_group_svg(summary.resorption_percent))
    if km:
        plots["km"] = svg_data_uri(km_by_group_svg(km))
    context = {"s": summary, "table": summary.table(), "plots": plots}
    # Drawing missing date offsets above is itself a write: key by the state after it.
    app_state.resorb_cohort = (reg.change_marker(), context)
    return context
