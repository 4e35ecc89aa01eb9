"""healthtrack.core.charts: accessible server-rendered SVG with a text alternative."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from healthtrack.core.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    band_chart,
    bar_chart,
    line_chart,
)

DAY = date(2026, 3, 1)


def days(values):
    return [(DAY + timedelta(days=i), v) for i, v in enumerate(values)]


class Tree(HTMLParser):
    """Collects start tags with their attributes, and checks the markup is balanced."""

    VOID = {"line", "rect", "circle", "polyline", "path"}

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()

    def all(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", ""))]


def test_bar_chart_is_an_accessible_figure_with_a_data_table():
    html = str(bar_chart(days([8432, None, 12000]), title="Steps", unit="steps"))
    tree = Tree(html)
    assert tree.stack == []
    svg = tree.all("svg")[0]
    assert svg["role"] == "img"
    title_id, desc_id = svg["aria-labelledby"].split()
    assert f'<title id="{title_id}">Steps</title>' in html
    desc = re.search(rf'<desc id="{desc_id}">(.*?)</desc>', html).group(1)
    assert "Latest: 12,000 steps (3 Mar)" in desc
    assert "Lowest: 8,432 steps (1 Mar)" in desc
    assert len(tree.all("rect", "chart-bar")) == 2  # no bar for the gap
    assert "<title>1 Mar: 8,432 steps</title>" in html
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th><td>(.*?)</td></tr>", html)
    assert rows == [("1 Mar", "8,432"), ("2 Mar", "no data"), ("3 Mar", "12,000")]
    assert "chart-axis-title" in html and ">steps</text>" in html  # the y axis says its unit
    assert re.findall(r'chart-tick-x[^"]*"[^>]*>([^<]*)<', html) == ["1 Mar", "2 Mar", "3 Mar"]


def test_bars_start_at_zero_and_the_axis_covers_the_highest_value():
    html = str(bar_chart(days([500, 900]), title="Water", unit="ml"))
    ticks = [float(t.replace(",", "")) for t in re.findall(r'chart-tick-y"[^>]*>([^<]*)<', html)]
    assert ticks[0] == 0 and ticks[-1] >= 900


def test_a_goal_guide_is_drawn_labelled_and_counted_in_the_summary():
    chart = bar_chart(
        days([12000, 4000, 10000]), title="Steps", unit="steps", guides=[(10000, "Goal")]
    )
    html = str(chart)
    assert '<g class="chart-guide">' in html and ">Goal 10k</text>" in html
    assert "Goal 10,000 steps: reached on 2 of 3 days." in chart.summary


def test_long_periods_label_a_few_dates_including_the_latest():
    html = str(bar_chart(days(range(90)), title="Steps"))
    labels = re.findall(r'chart-tick-x[^"]*"[^>]*>([^<]*)<', html)
    assert labels == ["15 Mar", "30 Mar", "14 Apr", "29 Apr", "14 May", "29 May"]
    html = str(bar_chart(days(range(7)), title="Steps"))
    assert len(re.findall(r'chart-tick-x[^"]*"[^>]*>([^<]*)<', html)) == 7  # a week: every day


def test_line_chart_breaks_at_gaps_and_marks_every_value():
    html = str(line_chart(days([70.2, 70.0, None, 69.5, 69.4]), title="Weight", unit="kg"))
    tree = Tree(html)
    lines = tree.all("polyline", "chart-line")
    assert len(lines) == 2
    assert [len(line["points"].split()) for line in lines] == [2, 2]
    assert len(tree.all("circle", "chart-point")) == 4
    assert "<title>4 Mar: 69.5 kg</title>" in html
    assert "Highest: 70.2 kg (1 Mar)" in html


def test_band_chart_draws_a_range_per_point_and_tabulates_low_and_high():
    points = [
        (DAY, 80, 120),
        (DAY + timedelta(days=1), None, None),
        (DAY + timedelta(days=2), 135, 85),
    ]
    chart = band_chart(
        points, title="Blood pressure", unit="mmHg", low_label="Diastolic", high_label="Systolic"
    )
    html = str(chart)
    assert len(Tree(html).all("g", "chart-range")) == 2
    assert "<title>1 Mar: diastolic 80 mmHg to systolic 120 mmHg</title>" in html
    assert '<th scope="col">Diastolic (mmHg)</th><th scope="col">Systolic (mmHg)</th>' in html
    assert "<td>no data</td><td>no data</td>" in html
    assert "Highest systolic: 135 mmHg (3 Mar)" in chart.summary


def test_no_value_at_all_gives_an_empty_state_without_svg():
    chart = line_chart(days([None, None]), title="Heart rate", empty_text="No readings yet.")
    html = str(chart)
    assert chart.is_empty
    assert "<svg" not in html
    assert "No readings yet." in html and "Heart rate" in html


def test_labels_and_titles_are_escaped():
    html = str(bar_chart([("<b>x</b>", 1)], title="<script>alert(1)</script>", unit="&"))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_no_inline_style_or_script_so_the_csp_holds():
    html = str(band_chart([(DAY, 1, 2)], title="x")) + str(line_chart(days([1, 2]), title="y"))
    assert "style=" not in html and "<script" not in html and " on" not in html.replace(" of", "")


def test_template_tags_render_charts():
    template = Template('{% load charts %}{% bar_chart points title="Sleep" unit="h" %}')
    html = template.render(Context({"points": days([7.5, 6.25])}))
    assert html.startswith('<figure class="chart chart-type-bar">')
    assert "<title>2 Mar: 6.2 h</title>" in html or "<title>2 Mar: 6.3 h</title>" in html


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=120))
def test_every_mark_stays_inside_the_plot(values):
    html = str(line_chart(days(values), title="t")) + str(bar_chart(days(values), title="t"))
    for y in re.findall(r'(?:cy|y)="(-?[\d.]+)"', html):
        assert MARGIN_TOP - 0.1 <= float(y) <= HEIGHT - MARGIN_BOTTOM + 18.1
    for height in re.findall(r'height="(-?[\d.]+)"', html):
        assert 0 <= float(height) <= HEIGHT


def test_axis_ticks_share_one_format_without_float_noise():
    html = str(line_chart(days([71.4, 71.3, 71.2, 71.1]), title="Weight", unit="kg"))
    assert re.findall(r'chart-tick-y"[^>]*>([^<]*)<', html) == [
        "71.0",
        "71.1",
        "71.2",
        "71.3",
        "71.4",
        "71.5",
    ]
    html = str(bar_chart(days([4000, 12500]), title="Steps"))
    assert re.findall(r'chart-tick-y"[^>]*>([^<]*)<', html) == ["0", "5k", "10k", "15k"]


def test_guides_are_drawn_over_the_marks():
    html = str(bar_chart(days([12000]), title="Steps", guides=[(10000, "Goal")]))
    assert html.index('class="chart-bar"') < html.index('class="chart-guide"')


def test_long_lines_mark_only_the_latest_point():
    html = str(line_chart(days(range(90)), title="Heart rate"))
    assert len(Tree(html).all("circle", "chart-point")) == 1
    assert "<title>29 May: 89</title>" in html
