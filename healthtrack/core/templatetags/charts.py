"""`{% load charts %}` then `{% bar_chart points title="Steps" unit="steps" guides=guides %}`,
`{% line_chart ... %}`, `{% band_chart points title=... low_label=... high_label=... %}`.
The arguments are those of `healthtrack.core.charts`; each tag renders the chart's `<figure>`."""

from __future__ import annotations

from django import template

from healthtrack.core import charts

register = template.Library()


@register.simple_tag
def bar_chart(points, **options) -> charts.Chart:
    return charts.bar_chart(points, **options)


@register.simple_tag
def line_chart(points, **options) -> charts.Chart:
    return charts.line_chart(points, **options)


@register.simple_tag
def band_chart(points, **options) -> charts.Chart:
    return charts.band_chart(points, **options)
