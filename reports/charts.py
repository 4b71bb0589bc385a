"""The geometry of the commissioner report's charts, drawn as SVG by the server
(``templates/reports/chart.html``): no script, no inline style (the content security policy
allows neither), the same markup on the page and in the printed pack.

Two shapes: ``bar_chart`` (one horizontal bar per category, its label above it, its value
after it: readable at 360 px wide) and ``column_chart`` (one column per month, with a scale).
A withheld value has no bar: its words ("fewer than 5") stand where the bar would be. The
words around a chart (its title, its text alternative, its data table) are the caller's
(``reports.reading``); this module only places things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# Drawing units: a bar chart is as wide as a phone's text column, so its text is drawn at
# about the page's own size there (the SVG scales with the column, up to a maximum width).
WIDTH = 330
FONT = 15
SMALL_FONT = 11
BAR = 16
# A bar's value is written after it: the longest bar leaves this much room.
VALUE_ROOM = 70
COLUMN_HEIGHT = 100
# Compact bars: the labels' column, right-aligned against the bars, and its line height.
LABEL_ROOM = 150
LINE = 12
COMPACT_BAR = 11


@dataclass
class Mark:
    """One bar or column: its rectangle, its label and its value's words, and where they go."""

    label: str
    value: str
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0
    # Where the label and the value are written (bars), or the label (columns).
    label_x: float = 0
    label_y: float = 0
    value_x: float = 0
    value_y: float = 0
    withheld: bool = False
    # A second line under a column's label (the year, under January and the first month).
    sublabel: str = ""
    # A bar's label, wrapped, and the distance between its lines.
    lines: list[str] = field(default_factory=list)
    line_height: float = 0

    @property
    def sublabel_y(self) -> float:
        return round(self.label_y + 13, 1)


@dataclass
class Tick:
    """A line of the scale at ``y`` (columns), with its number."""

    y: float
    label: str

    @property
    def label_y(self) -> float:
        return round(self.y + 4, 1)


@dataclass
class Chart:
    """A chart to draw (``kind`` "bars" or "columns"), with its words: ``title`` (its heading
    and accessible name), ``description`` (the text alternative, shown as the caption),
    ``note`` (what a withheld value means, if any is) and ``table`` (its data: headers and
    rows of words, shown under it)."""

    key: str
    kind: str
    title: str
    description: str
    width: float
    height: float
    marks: list[Mark]
    ticks: list[Tick] = field(default_factory=list)
    baseline: float = 0
    note: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    # Bars: labels beside the bars (``compact``), with the same chart for a phone (``narrow``).
    compact: bool = False
    narrow: Chart | None = None

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width:g} {self.height:g}"


Value = int | Decimal | None  # None: withheld


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken between words (a longer word
    stands on a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def bar_chart(key: str, title: str, items: list[tuple[str, Value, str]]) -> Chart:
    """Horizontal bars, in the order given: ``items`` are (label, value or None if withheld,
    the value in words), scaled to the largest value. Each label stands beside its bar (for
    print and wide screens), and in ``narrow``, the same chart for a phone, above it; a long
    label is wrapped."""
    chart = _bars(key, title, items, compact=True)
    chart.narrow = _bars(key, title, items, compact=False)
    return chart


def _bars(key: str, title: str, items: list[tuple[str, Value, str]], *, compact: bool) -> Chart:
    largest = max((v for _, v, _ in items if v is not None), default=0) or 1
    labels = LABEL_ROOM if compact else 0
    room = WIDTH - VALUE_ROOM - labels
    marks, y = [], 0.0
    height: float
    for label, value, words in items:
        if compact:
            lines = wrap(label, 20)
            height = max(COMPACT_BAR, len(lines) * LINE)
            bar_y = y + 2 + (height - COMPACT_BAR) / 2
            label_y = y + 2 + (height - len(lines) * LINE) / 2 + LINE - 3
        else:
            lines = wrap(label, 38)
            label_y = y + FONT
            bar_y = y + len(lines) * (FONT + 3) + 2
            height = bar_y - y - 3 + BAR
        length = 0.0 if value is None else float(value) * room / float(largest)
        # A non-zero value always shows, however small beside the largest.
        if value:
            length = max(length, 2)
        marks.append(
            Mark(
                label=label,
                value=words,
                x=labels,
                y=round(bar_y, 1),
                width=round(length, 1),
                height=COMPACT_BAR if compact else BAR,
                label_x=labels - 6 if compact else 0,
                label_y=round(label_y, 1),
                value_x=round(labels + length + (6 if value else 0), 1),
                value_y=round(bar_y + (COMPACT_BAR if compact else BAR) - 3, 1),
                withheld=value is None,
                lines=lines,
                line_height=LINE if compact else FONT + 3,
            )
        )
        y += (2 + height + 3) if compact else (3 + height + 10)
    return Chart(key, "bars", title, "", WIDTH, round(y, 1), marks, compact=compact)


def nice_step(largest: float, most: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving at most ``most`` steps up
    to ``largest``."""
    if largest <= 0:
        return 1
    power = 1.0
    while power * 10 <= largest:
        power *= 10
    while power > largest:
        power /= 10
    for factor in (1, 2, 2.5, 5, 10, 20, 25, 50):
        step = factor * power / 10
        if largest / step <= most:
            return step
    return power * 10


def _number(n: float) -> str:
    return f"{n:,.1f}".rstrip("0").rstrip(".")


def column_chart(
    key: str,
    title: str,
    points: list[tuple[str, str, Value, str]],
    *,
    description: str = "",
) -> Chart:
    """Vertical columns, one per point: ``points`` are (label, second line or "", value or
    None if withheld, the value in words), with a scale of round numbers on the left."""
    left, top, bottom = 34, 8, 34
    plot = WIDTH - left - 4
    largest = max((float(v) for _, _, v, _ in points if v is not None), default=0)
    step = nice_step(largest)
    top_value = step * max(1, -(-largest // step))
    baseline = top + COLUMN_HEIGHT
    ticks = []
    value = 0.0
    while value <= top_value + 1e-9:
        ticks.append(Tick(round(baseline - value * COLUMN_HEIGHT / top_value, 1), _number(value)))
        value += step
    slot = plot / max(len(points), 1)
    marks = []
    for i, (label, sublabel, v, words) in enumerate(points):
        height = 0.0 if v is None else float(v) * COLUMN_HEIGHT / top_value
        if v:
            height = max(height, 1.5)
        x = left + i * slot
        marks.append(
            Mark(
                label=label,
                value=words,
                x=round(x + slot * 0.15, 1),
                y=round(baseline - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label_x=round(x + slot / 2, 1),
                label_y=baseline + 14,
                # A withheld month: an asterisk where its column would stand.
                value_x=round(x + slot / 2, 1),
                value_y=baseline - 4,
                withheld=v is None,
                sublabel=sublabel,
            )
        )
    return Chart(
        key,
        "columns",
        title,
        description,
        WIDTH,
        baseline + bottom,
        marks,
        ticks=ticks,
        baseline=baseline,
    )
