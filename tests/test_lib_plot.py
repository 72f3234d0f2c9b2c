"""The SVG chart writer (``lib.plot``, issue 17): nice ticks that never overlap, dates labelled
concisely, data mapped to the plot box, every piece of text escaped, nothing the page's
Content-Security-Policy would refuse, and the same data drawing the same bytes."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import xml.etree.ElementTree as ET

import pytest

from ketaclinic.analytics.charts import km_chart_svg
from ketaclinic.analytics.selectors import Curve
from ketaclinic.lib import plot
from ketaclinic.lib.plot import Axes, Fill, LegendEntry, Marker, Pen, Svg, Tick
from ketaclinic.outcomes.diary.charts import pain_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = 'Zoë <script>alert("x")</script> & "Dr O\'Neil" <b>'


def _labels(ticks: list[Tick]) -> list[str]:
    return [t.label for t in ticks]


def _day(text: str) -> float:
    return float(dt.date.fromisoformat(text).toordinal())


# -- text --------------------------------------------------------------------------------------


def test_text_width_uses_dejavu_sans_advances() -> None:
    # "0" is 1303/2048 em and "W" 2025/2048 em in DejaVu Sans.
    assert plot.text_width("0", 10) == pytest.approx(1303 / 2048 * 10)
    assert plot.text_width("W0", 2048) == pytest.approx(2025 + 1303)
    assert plot.text_width("", 12) == 0
    # Bold is wider; an accented letter is as wide as its base letter; anything unknown counts
    # as a full em, wider than any ordinary letter, so the layout errs on the roomy side.
    assert plot.text_width("abc", 10, bold=True) > plot.text_width("abc", 10)
    assert plot.text_width("ë", 10) == plot.text_width("e", 10)
    assert plot.text_width("痛", 10) == pytest.approx(10)
    assert plot.text_width("痛", 10) > plot.text_width("M", 10)


def test_wrapped_lines_fit_the_width_and_keep_every_word() -> None:
    text = (
        "An estimate from a population model, not a measurement. After 0.5 mg/kg over 40 min "
        "about 185 ng/mL was measured where the Domino model predicts about 240 ng/mL."
    )
    lines = plot.wrap_text(text, width=200, size=9)
    assert len(lines) > 1
    assert all(plot.text_width(line, 9) <= 200 for line in lines)
    assert " ".join(lines) == text
    # A word wider than the line keeps a line of its own rather than vanishing.
    assert plot.wrap_text("a " + "x" * 80 + " b", width=50, size=9) == ["a", "x" * 80, "b"]
    assert plot.wrap_text("", width=50, size=9) == []


def test_numbers_are_written_short_and_never_as_minus_zero() -> None:
    assert [plot.num(v) for v in (0.0, -0.0, -0.001, 1.0, 1.5, 2.345, 100.126, -3.1)] == [
        "0",
        "0",
        "0",
        "1",
        "1.5",
        "2.35",
        "100.13",
        "-3.1",
    ]


# -- linear ticks --------------------------------------------------------------------------------


def test_linear_ticks_take_the_finest_nice_step_whose_labels_fit() -> None:
    def wide(label: str) -> float:
        return plot.text_width(label, 10) + 10

    # A long axis takes every 10 minutes, a short one every 20, a tiny one every 50 or 100.
    assert _labels(plot.linear_ticks(0, 120, length=900, extent=wide, max_ticks=13)) == [
        str(v) for v in range(0, 121, 10)
    ]
    assert _labels(plot.linear_ticks(0, 120, length=300, extent=wide)) == [
        "0",
        "20",
        "40",
        "60",
        "80",
        "100",
        "120",
    ]
    narrow = plot.linear_ticks(0, 120, length=80, extent=wide)
    assert _labels(narrow) in (["0", "50", "100"], ["0", "100"])
    # max_ticks bounds the count even when the labels would fit.
    assert len(plot.linear_ticks(0, 300, length=5000, extent=wide, max_ticks=7)) <= 7


@pytest.mark.parametrize(
    ("low", "high", "max_ticks", "expected"),
    [
        (0, 1, 9, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (0, 10, 9, ["0", "2", "4", "6", "8", "10"]),
        (0, 3750, 9, ["0", "500", "1000", "1500", "2000", "2500", "3000", "3500"]),
        (-5, 5, 9, ["-4", "-2", "0", "2", "4"]),
        (0, 7.5, 9, ["0", "1", "2", "3", "4", "5", "6", "7"]),
        (0, 7.5, 5, ["0", "2", "4", "6"]),
        (0, 0.75, 4, ["0.0", "0.2", "0.4", "0.6"]),
        (0, 10, 5, ["0.0", "2.5", "5.0", "7.5", "10.0"]),
    ],
)
def test_linear_ticks_are_multiples_of_a_nice_step(
    low: float, high: float, max_ticks: int, expected: list[str]
) -> None:
    ticks = plot.linear_ticks(low, high, length=220, extent=lambda _: 18, max_ticks=max_ticks)
    assert _labels(ticks) == expected
    # Every tick inside the range, evenly spaced.
    assert all(low - 1e-9 <= t.value <= high + 1e-9 for t in ticks)
    assert len({round(b.value - a.value, 9) for a, b in itertools.pairwise(ticks)}) == 1


def test_a_range_of_one_value_gets_one_tick() -> None:
    assert plot.linear_ticks(5, 5, length=100, extent=lambda _: 10) == [Tick(5, "5")]


# -- date ticks ------------------------------------------------------------------------------------


def test_months_are_named_with_the_year_once_under_the_axis() -> None:
    low, high = _day("2026-01-31"), _day("2026-04-16")
    # Wide: the 1st and the 15th of each month; on a phone, the months alone.
    wide = plot.date_ticks(low, high, length=480, size=11, max_ticks=9)
    assert _labels(wide.ticks) == ["Feb", "15", "Mar", "15", "Apr", "15"]
    phone = plot.date_ticks(low, high, length=250, size=12.5, max_ticks=5)
    assert _labels(phone.ticks) == ["Feb", "Mar", "Apr"]
    assert wide.offset == phone.offset == "2026"
    # Each tick sits on its date (midnight, as the data's days do).
    assert phone.ticks[0].value == _day("2026-02-01")


def test_where_the_year_turns_the_tick_says_the_year() -> None:
    ticks = plot.date_ticks(
        _day("2024-05-01"), _day("2026-11-30"), length=480, size=11, max_ticks=9
    )
    assert _labels(ticks.ticks) == ["May", "Sep", "2025", "May", "Sep", "2026", "May", "Sep"]
    assert ticks.offset == ""  # the labels say the year themselves


def test_a_few_days_are_labelled_by_day_with_the_month_at_its_first() -> None:
    ticks = plot.date_ticks(
        _day("2026-11-19"), _day("2026-12-05"), length=700, size=11, max_ticks=9
    )
    labels = _labels(ticks.ticks)
    assert "Dec" in labels
    assert all(label == "Dec" or label.isdigit() for label in labels)
    assert ticks.offset == "2026"
    # Across the new year the offset names both years.
    across = plot.date_ticks(
        _day("2025-12-20"), _day("2026-01-10"), length=700, size=11, max_ticks=9
    )
    assert across.offset == "2025-2026"
    assert "Jan" in _labels(across.ticks)


def test_the_last_day_of_a_month_is_left_out_next_to_the_first() -> None:
    # Every 2 days: 29 and 31 Jan, then 1 Feb: "31" would crowd "Feb".
    ticks = plot.date_ticks(
        _day("2026-01-27"), _day("2026-02-05"), length=300, size=11, max_ticks=6
    )
    days = [dt.date.fromordinal(int(t.value)) for t in ticks.ticks]
    assert dt.date(2026, 2, 1) in days
    assert dt.date(2026, 1, 31) not in days


@pytest.mark.parametrize("length", [150, 250, 400, 700, 1000])
@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2026-03-01", "2026-03-08"),
        ("2026-02-15", "2026-04-20"),
        ("2024-05-06", "2026-12-01"),
        ("2016-01-01", "2026-12-01"),
    ],
)
def test_date_labels_never_overlap(first: str, last: str, length: float) -> None:
    low, high = _day(first), _day(last)
    ticks = plot.date_ticks(low, high, length=length, size=12.5, max_ticks=9).ticks
    assert ticks
    assert len(ticks) <= 9
    xs = [(t.value - low) / (high - low) * length for t in ticks]
    widths = [plot.text_width(t.label, 12.5) for t in ticks]
    for (x1, w1), (x2, w2) in zip(
        zip(xs, widths, strict=True), zip(xs[1:], widths[1:], strict=True), strict=False
    ):
        assert x2 - x1 >= (w1 + w2) / 2


# -- axes and drawing ------------------------------------------------------------------------------


def test_axes_map_data_to_the_plot_box_with_y_upwards() -> None:
    axes = Axes(left=50, top=10, width=200, height=100, x_min=0, x_max=10, y_min=0, y_max=50)
    assert axes.point(0, 0) == (50, 110)
    assert axes.point(10, 50) == (250, 10)
    assert axes.point(5, 25) == (150, 60)
    assert (axes.right, axes.bottom) == (250, 110)
    # A range of nothing maps to the edge rather than dividing by zero.
    flat = Axes(left=0, top=0, width=10, height=10, x_min=3, x_max=3, y_min=1, y_max=1)
    assert flat.point(3, 1) == (0, 10)


def _drawn() -> str:
    svg = Svg(300, 200)
    axes = Axes(40, 10, 240, 150, 0, 10, 0, 10)
    plot.draw_y_ticks(svg, axes, [Tick(0, "0"), Tick(10, "10")], size=10, grid="#dddddd")
    plot.draw_x_ticks(svg, axes, [Tick(0, "0"), Tick(5, "5"), Tick(10, "10")], size=10)
    plot.draw_spines(svg, axes, box=True)
    with svg.group("curve"):
        svg.polyline([axes.point(0, 0), axes.point(5, 8), axes.point(10, 3)], Pen("#0b5cad", 2))
        svg.markers([axes.point(5, 8), axes.point(10, 3)], Marker("circle", 4, "#0b5cad"))
    with svg.group("band"):
        svg.rect(axes.left, axes.y(6), axes.width, axes.y(4) - axes.y(6), Fill("#2e7d32", 0.12))
    entries = [
        LegendEntry(HOSTILE, pen=Pen("#0b5cad", 2, (3, 1))),
        LegendEntry("Band", fill=Fill("#2e7d32", 0.12)),
        LegendEntry("Marks", marker=Marker("circle", 4, "#0b5cad")),
    ]
    layout = plot.legend_layout(entries, size=10, max_width=280, max_columns=3)
    plot.draw_legend(svg, entries, layout, x=10, y=170)
    svg.text(150, 5, HOSTILE, size=11, anchor="middle", valign="top")
    svg.text(8, 85, "Rotated", size=11, anchor="middle", valign="top", rotate=-90)
    return svg.render(label=HOSTILE, description=HOSTILE, css_class='a"b', testid="<t>")


def test_every_piece_of_text_is_escaped() -> None:
    svg = _drawn()
    assert "<script>" not in svg
    assert "<b>" not in svg
    root = ET.fromstring(svg)  # noqa: S314  (our own output)
    # Read back, the text is exactly what was given.
    assert root.attrib["aria-label"] == HOSTILE
    assert root.attrib["class"] == 'a"b'
    assert root.attrib["data-testid"] == "<t>"
    assert root.find(f"{SVG}title") is not None
    assert root.findtext(f"{SVG}title") == HOSTILE
    assert root.findtext(f"{SVG}desc") == HOSTILE
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count(HOSTILE) == 2  # the legend entry and the free text


def test_nothing_the_content_security_policy_refuses() -> None:
    svg = _drawn()
    assert "style=" not in svg
    assert "<style" not in svg
    assert "<script" not in svg
    assert not re.search(r"\son[a-z]+=", svg)  # no event handler attributes
    root = ET.fromstring(svg)  # noqa: S314
    for element in root.iter():
        assert "style" not in element.attrib
    # Colours, strokes and fonts are presentation attributes.
    assert 'stroke="#0b5cad"' in svg
    assert 'fill-opacity="0.12"' in svg
    assert 'stroke-dasharray="3 1"' in svg
    assert f'font-family="{plot.FONT_FAMILY}"' in svg


def test_the_root_is_a_bare_named_element_sized_by_its_view_box() -> None:
    svg = _drawn()
    assert svg.startswith("<svg ")
    assert svg.endswith("</svg>")
    root = ET.fromstring(svg)  # noqa: S314
    assert root.tag == f"{SVG}svg"
    assert root.attrib["role"] == "img"
    assert root.attrib["viewBox"] == "0 0 300 200"
    assert "width" not in root.attrib
    assert "height" not in root.attrib
    assert plot.view_box_width(svg) == 300
    with pytest.raises(ValueError, match="viewBox"):
        plot.view_box_width("<svg/>")


def test_markers_are_defined_once_and_used_at_each_point() -> None:
    svg = _drawn()
    root = ET.fromstring(svg)  # noqa: S314
    defs = root.find(f"{SVG}defs")
    assert defs is not None
    assert [p.attrib["id"] for p in defs] == ["mk-circle-0b5cad-4"]
    uses = list(root.iter(f"{SVG}use"))
    assert len(uses) == 3  # two on the curve, one in the legend
    assert {u.attrib["{http://www.w3.org/1999/xlink}href"] for u in uses} == {"#mk-circle-0b5cad-4"}


def test_ticks_are_named_groups_with_their_label_on_the_tick() -> None:
    root = ET.fromstring(_drawn())  # noqa: S314
    groups = {g.attrib["id"]: g for g in root.iter(f"{SVG}g") if "id" in g.attrib}
    assert {"xtick_0", "xtick_1", "xtick_2", "ytick_0", "ytick_1", "curve", "band", "legend"} <= (
        groups.keys()
    )
    label = next(groups["xtick_1"].iter(f"{SVG}text"))
    assert (label.text, label.attrib["x"], label.attrib["text-anchor"]) == ("5", "160", "middle")
    # A label placed by its top: the baseline is the font's ascent lower.
    assert float(label.attrib["y"]) == pytest.approx(160 + 3.5 + 3.5 + plot.ASCENT * 10, abs=0.01)


def test_rotated_text_turns_about_its_own_anchor() -> None:
    root = ET.fromstring(_drawn())  # noqa: S314
    rotated = next(t for t in root.iter(f"{SVG}text") if t.text == "Rotated")
    x, y = rotated.attrib["x"], rotated.attrib["y"]
    assert rotated.attrib["transform"] == f"rotate(-90 {x} {y})"
    # Placed by its top at x = 8: turned a quarter left, the top faces left, so the baseline
    # lies the ascent to the right.
    assert float(x) == pytest.approx(8 + plot.ASCENT * 11, abs=0.01)
    assert float(y) == pytest.approx(85)


def test_a_legend_drops_columns_until_it_fits() -> None:
    entries = [LegendEntry(f"A rather long legend label {n}", pen=Pen("#000")) for n in range(5)]
    wide = plot.legend_layout(entries, size=11, max_width=2000, max_columns=3)
    narrow = plot.legend_layout(entries, size=11, max_width=300, max_columns=3)
    assert (wide.columns, wide.rows) == (3, 2)
    assert (narrow.columns, narrow.rows) == (1, 5)
    assert narrow.width <= 300
    assert narrow.height == pytest.approx(5 * plot.LINE_HEIGHT * 11)


def test_the_same_data_draws_the_same_bytes() -> None:
    assert _drawn() == _drawn()


def test_phone_font_size() -> None:
    # The patient's 4.8 in chart at 12.5 pt, shown 340 px wide, reads at 12.3 px.
    assert plot.phone_font_px(12.5, width_in=4.8) == pytest.approx(12.297, abs=0.001)


# -- the charts carry names through escaped --------------------------------------------------------


def test_a_name_in_a_chart_label_or_a_stratum_is_escaped() -> None:
    svg = pain_chart_svg(nrs=[(dt.date(2026, 3, 2), 4.0)], today=dt.date(2026, 3, 2), label=HOSTILE)
    assert ET.fromstring(svg).attrib["aria-label"] == HOSTILE  # noqa: S314
    assert "<script>" not in svg
    curve = Curve(
        label=HOSTILE,
        timeline=[7.0],
        survival=[0.0],
        at_risk=[(0, 1), (4, 0)],
        events=1,
        censored=0,
        median_days=7.0,
    )
    km = km_chart_svg([curve])
    assert "<script>" not in km
    texts = {t.text for t in ET.fromstring(km).iter(f"{SVG}text")}  # noqa: S314
    assert f"{HOSTILE} (n=1)" in texts
