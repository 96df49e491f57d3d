"""Plots of the assessment report, as PNG bytes (matplotlib, Agg backend).

Both plots take the plain-JSON sections of :class:`~resorb.reports.Assessment`,
so the web app can draw them from a stored assessment too.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["factor_plot_png", "volume_plot_png"]

_INK = "#1f2933"
_MUTED = "#7b8794"
_BLUE = "#1f5f99"
_BAND = "#9cc3e6"
_GREEN = "#2f855a"
_RED = "#c53030"


def _figure(width_in: float, height_in: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=200)
    fig.patch.set_facecolor("white")
    return fig


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(_MUTED)
    ax.tick_params(colors=_INK, labelsize=8)
    ax.xaxis.label.set_color(_INK)
    ax.yaxis.label.set_color(_INK)
    ax.grid(axis="y", color="#e4e7eb", linewidth=0.6)
    ax.set_axisbelow(True)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(
        buf, format="png", bbox_inches="tight", pad_inches=0.05, metadata={"Software": None}
    )
    return buf.getvalue()


def volume_plot_png(
    forecast: Mapping[str, Any], measurements: list[Mapping[str, Any]] | tuple = ()
) -> bytes | None:
    """Measured volumes over time with the forecast median and its 95 % band.

    Parameters
    ----------
    forecast : mapping
        ``Assessment.forecast`` (``curve``, ``observations``, ``points``, ``growth``).
    measurements : sequence of mapping
        ``Assessment.measurements`` (for the method of each point).

    Returns
    -------
    bytes or None
        PNG, or None when no forecast is available.
    """
    if not forecast or not forecast.get("available"):
        return None
    curve = forecast["curve"]
    fig = _figure(6.4, 2.7)
    ax = fig.add_subplot(1, 1, 1)
    _style(ax)
    months = curve["months"]
    ax.fill_between(
        months,
        curve["lower_mm3"],
        curve["upper_mm3"],
        color=_BAND,
        alpha=0.45,
        linewidth=0,
        label="95 % forecast band",
    )
    ax.plot(months, curve["median_mm3"], color=_BLUE, linewidth=1.6, label="forecast median")
    obs = forecast["observations"]
    # Error bars: +/- one SD of each measurement (the error model is relative to size).
    if all(o.get("sd_mm3") is not None for o in obs):
        sd = [o["sd_mm3"] for o in obs]
    else:
        sd = forecast["growth"]["mdc_mm3"] / (1.959963984540054 * math.sqrt(2.0))
    xs = [o["months_after_baseline"] for o in obs]
    ys = [o["volume_mm3"] for o in obs]
    ax.errorbar(
        xs,
        ys,
        yerr=sd,
        fmt="o",
        color=_INK,
        ecolor=_MUTED,
        elinewidth=0.9,
        capsize=2.5,
        markersize=4.5,
        zorder=5,
        label="measured (± 1 SD)",
    )
    for p in forecast["points"]:
        ax.axvline(p["months_after_baseline"], color="#cbd2d9", linewidth=0.6, zorder=0)
    ax.set_xlim(-0.5, max(24.5, max(xs) + 0.5))
    ax.set_ylim(bottom=0)
    ax.set_xticks([0, 3, 6, 12, 18, 24])
    ax.set_xlabel("months after the baseline MRI", fontsize=8)
    ax.set_ylabel("herniation volume (mm³)", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    return _png(fig)


def _label(name: str, value: Any) -> str:
    """A factor in the words of the findings table (``pll`` -> the ligament's name)."""
    from resorb.domain.scales import FINDING_LABELS

    words = (
        FINDING_LABELS.get(name)
        or {"msu": "MSU class"}.get(name)
        or name.replace("_", " ").capitalize()
    )
    return f"{words}: {value}"


def factor_plot_png(resorption: Mapping[str, Any]) -> bytes | None:
    """Each factor's contribution to the log odds of resorption, with its 95 % range.

    Parameters
    ----------
    resorption : mapping
        ``Assessment.resorption`` (``factors`` with ``log_odds_contribution``
        and ``effect_interval``; ``baseline`` with the morphology prior).

    Returns
    -------
    bytes or None
        PNG, or None when no factor entered the estimate.
    """
    factors = list(resorption.get("factors") or [])
    if not factors:
        return None
    labels = [_label(f["name"], f["value"]) for f in factors]
    values = [float(f["log_odds_contribution"]) for f in factors]
    lows, highs = [], []
    for f, v in zip(factors, values, strict=True):
        # The interval is of the applied odds ratio (correlation weight included).
        lo, hi = f.get("effect_interval") or (math.exp(v), math.exp(v))
        lows.append(v - math.log(lo))
        highs.append(math.log(hi) - v)
    lows = [max(0.0, x) for x in lows]
    highs = [max(0.0, x) for x in highs]
    colours = [_GREEN if v > 0 else _RED if v < 0 else _MUTED for v in values]
    fig = _figure(6.4, 0.45 + 0.36 * len(factors))
    ax = fig.add_subplot(1, 1, 1)
    _style(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e4e7eb", linewidth=0.6)
    ys = list(range(len(factors)))[::-1]
    ax.barh(
        ys,
        values,
        color=colours,
        height=0.55,
        xerr=[lows, highs],
        error_kw={"ecolor": _INK, "elinewidth": 0.8, "capsize": 2},
    )
    ax.axvline(0, color=_INK, linewidth=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(
        "contribution to the log odds of resorption (0 = no change; > 0 favours resorption)",
        fontsize=7.5,
    )
    return _png(fig)
