"""Small template helpers for the page design: `{% load ui %}`."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, href: str, text: str, exact: bool = False):
    """A navigation link marked `aria-current="page"` when it is the current section."""
    request = context.get("request")
    path = request.path if request is not None else ""
    current = path == href if exact else path.startswith(href)
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', href, text)
    return format_html('<a href="{}">{}</a>', href, text)


@register.filter
def message_label(level_tag: str) -> str:
    """The word shown before a message, so its kind is never told by colour alone."""
    return {
        "success": "Done",
        "error": "Error",
        "warning": "Warning",
        "info": "Note",
        "debug": "Note",
    }.get(level_tag, "Note")
