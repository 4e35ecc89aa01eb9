"""Small template helpers for the page design: `{% load ui %}`."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from accounts.members import with_member

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, href: str, text: str, exact: bool = False, keep_member: bool = False):
    """A navigation link marked `aria-current="page"` when it is the current section;
    `keep_member` keeps the family member the page is shown for (accounts.members)."""
    request = context.get("request")
    path = request.path if request is not None else ""
    current = path == href if exact else path.startswith(href)
    if keep_member and request is not None:
        href = with_member(request, href)
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


@register.filter
def indefinite(noun: str) -> str:
    """`noun` with "a" or "an" as it is said: "an active energy", "an oxygen saturation",
    "a blood pressure" (by its first letter: no noun here starts with a silent h or a "you")."""
    noun = str(noun)
    article = "an" if noun[:1].lower() in "aeiou" and noun else "a"
    return f"{article} {noun}"
