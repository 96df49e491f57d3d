"""Plots for the pages: matplotlib (Agg) to SVG, embedded as ``data:`` images.

An SVG inside an ``<img>`` cannot run script and needs no inline style on
the page, so the plots live with the strict Content-Security-Policy.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import threading
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["km_by_group_svg", "resorption_by_group_svg", "svg_data_uri", "volume_course_svg"]

# pyplot's figure registry is not thread-safe; the Figure API without pyplot is,
# but font caches are shared: one plot at a time is cheap enough.
_LOCK = threading.Lock()
_COLOURS = ("#1f5f99", "#c2571a", "#2e8b57", "#8a3fa0", "#6b6b6b")


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100)
    fig.patch.set_facecolor("white")
    return fig


def _style(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(True, color="#e3e8ee", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...`` for an ``<img src>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def volume_course_svg(
    observations: Sequence[tuple[dt.date, float]], *, forecast: Mapping[str, Any] | None = None
) -> str:
    """Measured herniation volume over time, with the forecast band when there is one.

    Parameters
    ----------
    observations : sequence of (date, volume_mm3)
        Measured volumes, baseline first.
    forecast : mapping, optional
        The ``forecast`` object of an assessment (``baseline_date``, ``curve`` with
        ``months``, ``median_mm3``, ``lower_mm3``, ``upper_mm3``, ``interval_level``).
    """
    import matplotlib.dates as mdates

    from resorb.imaging import DAYS_PER_MONTH

    with _LOCK:
        fig = _figure(7.0, 3.2)
        ax = fig.add_subplot()
        _style(ax)
        curve = (forecast or {}).get("curve") if isinstance(forecast, Mapping) else None
        if curve and forecast.get("baseline_date"):
            base = dt.date.fromisoformat(str(forecast["baseline_date"]))
            days = [base + dt.timedelta(days=round(m * DAYS_PER_MONTH)) for m in curve["months"]]
            level = forecast.get("interval_level", 0.95)
            ax.fill_between(
                days,
                curve["lower_mm3"],
                curve["upper_mm3"],
                color="#b9d3ec",
                alpha=0.6,
                linewidth=0,
                label=f"forecast {level:.0%} interval",
            )
            ax.plot(
                days,
                curve["median_mm3"],
                color="#1f5f99",
                linewidth=1.6,
                linestyle="--",
                label="forecast median",
            )
        if observations:
            xs, ys = zip(*observations, strict=True)
            # Dotted connector: two scans say nothing about the path between them.
            ax.plot(
                xs,
                ys,
                marker="o",
                color="#16324f",
                linewidth=1.0,
                linestyle=":",
                markersize=6,
                label="measured",
            )
        ax.set_ylabel("herniation volume (mm³)", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(mdates.AutoDateLocator()))
        ax.legend(fontsize=8, frameon=False, loc="upper right")
        return _svg(fig)


def resorption_by_group_svg(values: Mapping[str, Sequence[float]]) -> str:
    """Resorption percent at the last MRI, one strip of points plus a box per group."""
    import numpy as np

    with _LOCK:
        fig = _figure(7.0, 3.2)
        ax = fig.add_subplot()
        _style(ax)
        groups = [g for g in values if len(values[g])]
        rng = np.random.default_rng(0)  # jitter only; fixed so the page is stable
        for i, g in enumerate(groups):
            ys = np.asarray(values[g], dtype=float)
            ax.boxplot(
                [ys],
                positions=[i],
                widths=0.5,
                showfliers=False,
                medianprops={"color": _COLOURS[i % len(_COLOURS)], "linewidth": 2},
                boxprops={"color": "#7a8794"},
                whiskerprops={"color": "#7a8794"},
                capprops={"color": "#7a8794"},
            )
            ax.scatter(
                i + rng.uniform(-0.12, 0.12, ys.size),
                ys,
                s=16,
                alpha=0.8,
                color=_COLOURS[i % len(_COLOURS)],
                zorder=3,
            )
        ax.axhline(0, color="#5b6775", linewidth=0.8)
        ax.set_xticks(
            range(len(groups)), [f"{g}\n(n={len(values[g])})" for g in groups], fontsize=9
        )
        ax.set_ylabel("resorption at last MRI (%)", fontsize=9)
        return _svg(fig)


def km_by_group_svg(
    curves: Mapping[str, Mapping[str, Any]], *, ylabel: str = "proportion not yet resorbed"
) -> str:
    """Kaplan-Meier curves of the fraction not yet resorbed, with 95 % bands.

    ``curves[group]`` holds ``months``, ``survival``, ``lower``, ``upper`` (step
    functions from :class:`lifelines.KaplanMeierFitter`).
    """
    with _LOCK:
        fig = _figure(7.0, 3.4)
        ax = fig.add_subplot()
        _style(ax)
        for i, (g, c) in enumerate(curves.items()):
            colour = _COLOURS[i % len(_COLOURS)]
            ax.step(
                c["months"],
                c["survival"],
                where="post",
                color=colour,
                linewidth=1.6,
                label=f"{g} (n={c['n']}, {c['events']} resorbed)",
            )
            ax.fill_between(
                c["months"],
                c["lower"],
                c["upper"],
                step="post",
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
        ax.set_ylim(0, 1.02)
        ax.set_xlim(left=0)
        ax.set_xlabel("months since baseline MRI", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.legend(fontsize=8, frameon=True, framealpha=0.9, edgecolor="#d5dbe3", loc="lower left")
        return _svg(fig)
