"""The digest chart: daily volume by policy area (stacked bars) and SLA attainment (line).

Drawn with matplotlib's object API on the Agg canvas: no pyplot, no global
figure state, no display needed, so it is safe on server threads (a lock
keeps matplotlib's shared font and text caches single-threaded anyway).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping

from bot.reporting.kpi import Daily

_LOCK = threading.Lock()
#: Policy areas: blues, greens, purples and greys only, so no area reads as a severity
#: (sev0 red, sev1 orange, sev2 yellow on cards and in Home).
COLOURS = ("#4C72B0", "#55A868", "#8172B3", "#64B5CD", "#2F4B7C", "#8C8C8C", "#A6761D")
LINE = "#222222"
#: Readable when Slack shows the image at preview size (about 360 px wide).
LEGEND_PT = 12
TICK_PT = 11


def render_chart(
    daily: Daily, titles: Mapping[str, str], title: str, *, highlight: int = 0
) -> bytes:
    """A PNG of ``daily``: one stacked bar per day and the attainment line on a second axis.

    ``highlight``: how many of the last days to shade (the digest's period).
    """
    labels = [
        d.strftime("%a %d") if len(daily.days) <= 16 else d.strftime("%d %b") for d in daily.days
    ]
    x = list(range(len(daily.days)))
    # Imported here: matplotlib and numpy are ~40 MB of every escbot process's memory,
    # and only a digest with a chart needs them.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    with _LOCK:
        fig = Figure(figsize=(8, 5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if 0 < highlight < len(x):
            ax.axvspan(len(x) - highlight - 0.5, len(x) - 0.5, color="#EEEEEE", zorder=0)
        bottom = [0] * len(x)
        order = {area: i for i, area in enumerate(titles)}  # the configuration's order
        areas = sorted(daily.volume.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        for i, (area, counts) in enumerate(areas):
            ax.bar(
                x,
                counts,
                bottom=bottom,
                label=titles.get(area, area),
                color=COLOURS[i % len(COLOURS)],
                width=0.75,
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.set_ylabel("tickets opened", fontsize=TICK_PT)
        ax.set_xticks(
            x,
            labels,
            rotation=45 if len(x) > 10 else 0,
            ha="right" if len(x) > 10 else "center",
            fontsize=TICK_PT,
        )
        ax.tick_params(axis="y", labelsize=TICK_PT)
        ax.set_ylim(0, max([*bottom, 1]) * 1.1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top"]].set_visible(False)
        sla = ax.twinx()
        rates = [a.rate for a in daily.attainment]
        points = [(i, r) for i, r in zip(x, rates, strict=True) if r is not None]
        if len(points) == 1:  # a line of one point is a dot nobody sees: a labelled marker
            [(i, r)] = points
            sla.plot(
                [i],
                [r],
                color=LINE,
                marker="D",
                markersize=9,
                linestyle="none",
                label="SLA attainment",
            )
            sla.annotate(
                f"{r:.0%}",
                (i, r),
                textcoords="offset points",
                xytext=(0, 9),
                ha="center",
                fontsize=LEGEND_PT,
                fontweight="bold",
            )
        elif points:
            sla.plot(
                [i for i, _ in points],
                [r for _, r in points],
                color=LINE,
                marker="o",
                markersize=5,
                linewidth=2,
                label="SLA attainment",
            )
        sla.set_ylim(0, 1.05)
        sla.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        sla.set_ylabel("SLA attainment", fontsize=TICK_PT)
        sla.tick_params(axis="y", labelsize=TICK_PT)
        sla.spines[["top"]].set_visible(False)
        handles = ax.get_legend_handles_labels()[0] + sla.get_legend_handles_labels()[0]
        if handles:
            ax.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.2),
                fontsize=LEGEND_PT,
                frameon=False,
                ncols=min(len(handles), 3),
            )
        ax.set_title(title, fontsize=LEGEND_PT, loc="left", wrap=True)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def alt_text(daily: Daily, titles: Mapping[str, str]) -> str:
    """What the chart shows, in words, for screen readers and notifications."""
    if not daily.days:
        return "Chart: no days to show."
    totals = [sum(c[i] for c in daily.volume.values()) for i in range(len(daily.days))]
    first, last = daily.days[0], daily.days[-1]
    parts = [
        f"Stacked bars: tickets opened per day by policy area, {first:%d %b} to {last:%d %b %Y}; "
        f"line: SLA attainment, the share of clocks (acknowledge and resolve) on time among "
        f"those that stopped within target or breached that day"
    ]
    parts.append(f"{sum(totals)} tickets in all")
    if any(totals):
        peak = max(range(len(totals)), key=lambda i: (totals[i], i))
        parts.append(f"busiest day {daily.days[peak]:%a %d %b} with {totals[peak]}")
    by_area = sorted(
        ((sum(c), titles.get(a, a)) for a, c in daily.volume.items()), key=lambda t: (-t[0], t[1])
    )
    if by_area:
        parts.append(", ".join(f"{name} {n}" for n, name in by_area))
    overall = sum(daily.attainment[1:], daily.attainment[0]) if daily.attainment else None
    if overall is not None and overall.rate is not None:
        parts.append(f"SLA attainment {overall.rate:.0%} over the days shown")
    return ". ".join(parts) + "."
