"""Unknown fields in an API write are refused, never silently dropped.

One rule for every JSON (and multipart) write under /api/v1/: a key the endpoint does not
accept is answered with 400 ``{"unknown_field": ["Unknown field: 'foo'. Accepted: a, b."]}``.
Read-only fields (``id``, computed values) are not accepted either: a client sends only what it
may change. Serializers get the rule from :class:`StrictFieldsMixin`; the few views that read a
body without a serializer call :func:`refuse_unknown_fields`; views with actions that take no
body at all (end, revoke, delete) declare them with :class:`NoBodyMixin`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rest_framework import exceptions, serializers
from rest_framework.fields import empty
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

UNKNOWN_FIELD = "unknown_field"


def unknown_fields_message(unknown: Iterable[str], accepted: Iterable[str]) -> str:
    unknown = sorted(unknown)
    accepted = sorted(accepted)
    names = ", ".join(f"'{name}'" for name in unknown)
    label = "Unknown field" if len(unknown) == 1 else "Unknown fields"
    if not accepted:
        return f"{label}: {names}. This request takes no body: send none, or {{}}."
    return f"{label}: {names}. Accepted: {', '.join(accepted)}."


def unknown_fields(data, accepted: Iterable[str]) -> list[str]:
    if not isinstance(data, Mapping):
        return []
    accepted = set(accepted)
    return sorted(str(key) for key in data if key not in accepted)


def refuse_unknown_fields(data, accepted: Iterable[str]) -> None:
    """Raise a 400 naming every key of `data` outside `accepted` (nothing if not a mapping)."""
    accepted = list(accepted)
    unknown = unknown_fields(data, accepted)
    if unknown:
        raise serializers.ValidationError(
            {UNKNOWN_FIELD: [unknown_fields_message(unknown, accepted)]}
        )


class StrictFieldsMixin:
    """Put first in a write serializer's bases: keys that are not writable fields are a 400."""

    def run_validation(self, data=empty):
        # Before the field checks, and whatever a subclass does in `to_internal_value`.
        accepted = [name for name, f in self.fields.items() if not f.read_only]
        refuse_unknown_fields(data, accepted)
        return super().run_validation(data)


def refuse_a_body(data) -> None:
    """For an action that takes no body: nothing, `{}` or `null` pass; an object with keys is a
    400 naming them (``unknown_field``), anything else (a list, a string, a number) a 400 too."""
    if isinstance(data, Mapping):
        refuse_unknown_fields(data, [])  # every key is unknown
        return
    if data is None:
        return
    kinds = {bool: "a boolean", str: "a string", list: "a list", int: "a number", float: "a number"}
    kind = kinds.get(type(data), type(data).__name__)
    raise serializers.ValidationError(
        {
            api_settings.NON_FIELD_ERRORS_KEY: [
                f"Invalid data. This request takes no body or an empty object, not {kind}."
            ]
        }
    )


class NoBodyMixin:
    """Put first in the bases of an API view whose `no_body_methods` take no body (DELETE by
    default; e.g. ``("POST",)`` for an end or revoke action): a body with fields is refused
    (400 ``unknown_field``) instead of being ignored. No body, ``{}``, ``null`` and a missing
    Content-Type still work. Checked after authentication, permissions and throttles and before
    the handler runs, so a refused request has written nothing; a malformed body is DRF's 400,
    a body in another content type its 415.

    As for every other write, someone else's object is 404 whatever the body: before refusing
    one, the view's `get_object()` (the object the action acts on, 404 if not the caller's to
    change) is asked, so the view must have one (DRF's generic views do)."""

    no_body_methods: tuple[str, ...] = ("DELETE",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "get_object", None)):
            raise TypeError(f"{cls.__name__} uses NoBodyMixin without a get_object() method.")

    def get_parsers(self):
        parsers = super().get_parsers()
        # `{}` works on every body-less action, also where the view's other methods read
        # multipart only (a photo upload's DELETE). Django's `setup()` has set `self.request`.
        request = getattr(self, "request", None)
        bodyless = request is not None and request.method in self.no_body_methods
        if bodyless and not any(isinstance(parser, JSONParser) for parser in parsers):
            parsers = [JSONParser(), *parsers]
        return parsers

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Only where the method has a handler: on a route that does not take it (DELETE on a
        # collection) dispatch answers 405 whatever the body, and there is no object to ask for.
        if request.method in self.no_body_methods and self._handles(request.method):
            try:
                refuse_a_body(request.data)  # reading it may be a 400 (malformed) or a 415
            except exceptions.APIException:
                self.get_object()  # someone else's object: 404, not a word about the body
                raise

    def _handles(self, method: str) -> bool:
        name = method.lower()
        return name in self.http_method_names and callable(getattr(self, name, None))
