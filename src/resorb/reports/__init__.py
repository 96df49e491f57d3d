"""Reports: the assessment of a case and its HTML/PDF rendering.

:func:`assess_case` gathers volumetry, forecast, resorption probability,
triage, management, therapies and scores into one frozen :class:`Assessment`;
:func:`render_html` and :func:`render_pdf` turn it into a self-contained
report with the decision-support disclaimer and numbered sources.
"""

from resorb._public import publish as _publish
from resorb.reports._assessment import ASSESSMENT_KEYS, Assessment, SourceRegister, assess_case
from resorb.reports._plots import factor_plot_png, volume_plot_png
from resorb.reports._render import (
    change_in_words,
    format_percent,
    render_html,
    render_pdf,
    write_atomic,
)

__all__ = [
    "ASSESSMENT_KEYS",
    "Assessment",
    "SourceRegister",
    "assess_case",
    "change_in_words",
    "factor_plot_png",
    "format_percent",
    "render_html",
    "render_pdf",
    "volume_plot_png",
    "write_atomic",
]

_publish(__name__, globals())
