"""`{% load members %}`: links that keep the member a page is shown for (`accounts.members`).

<a href="{% member_url 'goals-edit' goal.pk %}">     {# a URL name and its arguments #}
<a href="{% member_url card.href %}">                {# or a path built elsewhere #}
"""

from __future__ import annotations

from django import template
from django.urls import reverse

from accounts.members import with_member

register = template.Library()


@register.simple_tag(takes_context=True)
def member_url(context, target, *args) -> str:
    if not target:
        return ""
    target = str(target)
    url = target if target.startswith(("/", "?", "http")) else reverse(target, args=args)
    request = context.get("request")
    return with_member(request, url) if request is not None else url
