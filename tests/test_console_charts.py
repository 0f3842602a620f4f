"""The console's SVG charts are pure functions: data in, a well-formed SVG string out, with
every text from data escaped and nothing a Content Security Policy would refuse."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest

from web import charts

START, END = date(2026, 11, 1), date(2027, 4, 30)
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    """Well-formed XML, an <svg> root, no script, no inline style, no event handler."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    for element in root.iter():
        assert element.tag != f"{SVG}script"
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
    return root


def points(root: ElementTree.Element, tag: str) -> list[list[str]]:
    return [e.attrib["points"].split() for e in root.iter(f"{SVG}{tag}")]


def test_no_data_says_so() -> None:
    svg = charts.time_chart([], start=START, end=END, title="人天", empty="尚无报工")
    root = parse(svg)
    assert "尚无报工" in svg and not points(root, "polyline") and not points(root, "polygon")
    empty_series = charts.time_chart([charts.Series("已用", ())], start=START, end=END,
                                     title="t", empty="nothing")  # fmt: skip
    assert "nothing" in empty_series and not points(parse(empty_series), "polyline")


def test_one_point_is_drawn_as_a_dot() -> None:
    svg = charts.time_chart([charts.Series("已用", ((date(2026, 11, 25), 1.5),))],
                            start=START, end=END, title="t", empty="nothing")  # fmt: skip
    root = parse(svg)
    assert "nothing" not in svg
    assert [len(p) for p in points(root, "polyline")] == [1]
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_many_points_steps_areas_and_the_axis() -> None:
    days = [START + timedelta(days=i) for i in range(0, 180, 3)]
    used = charts.Series("used", tuple((d, i * 0.5) for i, d in enumerate(days)), "#3370ff", "area")
    contract = charts.Series("contract", ((START, 100.0), (date(2027, 1, 10), 120.0), (END, 120.0)),
                             "#d83931", "step")  # fmt: skip
    forecast = charts.Series("forecast", ((days[-1], 29.5), (END, 60.0)), "#de7802", "dashed")
    svg = charts.time_chart([used, contract, forecast], start=START, end=END, title="burn",
                            today=days[-1], today_label="今天")  # fmt: skip
    root = parse(svg)
    [area] = points(root, "polygon")
    assert len(area) == 2 * len(days) - 1 + 2  # a step per point, closed to the axis
    lines = points(root, "polyline")
    assert len(lines[0]) == 5  # a step: 3 points, each change held until the next
    assert 'stroke-dasharray="6 4"' in svg
    assert "2026-11" in svg and "2027-04" in svg and "今天" in svg
    assert ">150<" in svg  # the axis tops out at a round number above the contract (120)
    ys = [float(p.split(",")[1]) for p in lines[0]]
    assert ys[0] > ys[-1]  # the contract grew: higher on the chart (smaller y)


def test_values_outside_the_term_stay_on_the_chart() -> None:
    series = charts.Series("x", ((START - timedelta(days=30), 1.0), (END + timedelta(days=30), 2.0),
                                 (END, float("nan"))))  # fmt: skip
    root = parse(charts.time_chart([series], start=START, end=END, title="t"))
    xs = [float(p.split(",")[0]) for p in points(root, "polyline")[0]]
    assert min(xs) >= 0 and max(xs) <= 1160


@pytest.mark.parametrize(
    "label", ['<script>alert("x")</script>', "a & b", '" onload="x', "李娜 & 赵刚"]
)
def test_labels_are_escaped(label: str) -> None:
    svg = charts.time_chart([charts.Series(label, ((START, 1.0), (END, 2.0)))], start=START,
                            end=END, title=label, today=START, today_label=label,
                            empty=label)  # fmt: skip
    root = parse(svg)
    assert "<script" not in svg
    assert root.attrib["aria-label"] == label
    assert label in [e.text for e in root.iter(f"{SVG}text")]
    heat = charts.heatmap([charts.HeatRow(label, (8.0, 0.0))],
                          [charts.HeatColumn(label), charts.HeatColumn("2", muted=True)],
                          title=label, full=8.0, unit="h")  # fmt: skip
    heat_root = parse(heat)
    assert "<script" not in heat
    assert f"{label} {label}: 8h" in [e.text for e in heat_root.iter(f"{SVG}title")]


def test_colours_are_only_colours() -> None:
    svg = charts.time_chart([charts.Series("x", ((START, 1.0),), colour='red" onload="alert(1)')],
                            start=START, end=END, title="t")  # fmt: skip
    parse(svg)
    assert "onload" not in svg and charts.BRAND in svg
    assert charts.colour("#abc") == "#abc" and charts.colour("url(x)") == charts.BRAND


def test_heat_map_shades_by_the_day_and_marks_days_off() -> None:
    rows = [
        charts.HeatRow("李娜 · 中级工程师", (0.0, 2.0, 8.0, 10.0)),
        charts.HeatRow("赵刚", (4.0, 0, 0, 0)),
    ]
    columns = [charts.HeatColumn("1"), charts.HeatColumn("2"), charts.HeatColumn("3", muted=True),
               charts.HeatColumn("4")]  # fmt: skip
    root = parse(charts.heatmap(rows, columns, title="11 月", full=8.0, unit="h"))
    cells = [e for e in root.iter(f"{SVG}rect") if e.attrib.get("class") == "cell"]
    assert len(cells) == 8
    fills = [c.attrib["fill"] for c in cells]
    assert fills[0] == charts.heat_colour(0, 8) and fills[3] == "#d83931"  # more than a day
    assert fills[2] == charts.heat_colour(8, 8) != fills[1]
    assert fills[6] == "#e5e6eb"  # nothing on a day off: shaded as one
    printed = [e.text for e in root.iter(f"{SVG}text")]
    assert "10" in printed and "4" in printed


def test_an_empty_heat_map_says_so() -> None:
    svg = charts.heatmap([], [charts.HeatColumn("1")], title="t", full=8, empty="本月无人报工")
    assert "本月无人报工" in svg
    parse(svg)


def test_nice_ceiling() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 7, 12, 121, 260, 999)] == [
        1,
        0.3,
        1,
        8,
        12,
        150,
        300,
        1000,
    ]
    assert charts.nice_ceiling(float("inf")) == 1


def test_no_style_attribute_anywhere() -> None:
    svg = charts.time_chart([charts.Series("x", ((START, 1.0), (END, 3.0)), style="area")],
                            start=START, end=END, title="t")  # fmt: skip
    assert not re.search(r"\sstyle=", svg)
