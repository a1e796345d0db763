"""Inline SVG charts as plain numbers: Python lays the points out, a Jinja macro draws them
(autoescaped), so no chart library and no script is needed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 360, 160, 32
COLOURS = ("#3b6ea8", "#d9822b", "#2e8b57", "#a83b6e", "#6e3ba8")


@dataclass(frozen=True)
class Series:
    """One line of a chart: its name, colour, polyline points and labelled dots."""

    name: str
    colour: str
    points: str
    dots: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class Chart:
    """A line chart over rounds, ready for the `line_chart` macro."""

    title: str
    width: int
    height: int
    series: tuple[Series, ...]
    yticks: tuple[tuple[float, str], ...]
    xticks: tuple[tuple[float, str], ...]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def line_chart(title: str, lines: dict[str, Sequence[float | None]]) -> Chart:
    """Each named sequence as a line over rounds 1..n (None values are left out)."""
    values = [v for vs in lines.values() for v in vs if v is not None]
    n = max((len(vs) for vs in lines.values()), default=0)
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    low = min(low, 0.0)
    if high == low:
        high = low + 1.0

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return HEIGHT - PAD + (v - low) / (high - low) * (2 * PAD - HEIGHT)

    series = []
    for k, (name, vs) in enumerate(lines.items()):
        pts = [(x(i), y(v), f"round {i + 1}: {_fmt(v)}") for i, v in enumerate(vs) if v is not None]
        series.append(
            Series(
                name,
                COLOURS[k % len(COLOURS)],
                " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in pts),
                tuple((round(px, 1), round(py, 1), label) for px, py, label in pts),
            )
        )
    yticks = tuple((round(y(v), 1), _fmt(v)) for v in (low, (low + high) / 2, high))
    step = max(1, n // 8)
    xticks = tuple((round(x(i), 1), str(i + 1)) for i in range(0, n, step))
    return Chart(title, WIDTH, HEIGHT, tuple(series), yticks, xticks)
