"""DRF's content negotiation, answering the API clients' usual request without parsing it.

Nearly every API request asks for JSON the same way (`Accept: application/json`, `*/*` or no
Accept header) of a view whose first renderer is the JSON one, without a `?format=`. DRF's
`DefaultContentNegotiation` then parses the query string (`request.query_params`), builds the
request's header map, parses every Accept token and matches each against each renderer: ~4 %
of a reading's POST (issue 15), to arrive at its first renderer every time. Those requests get
that answer directly: the same renderer and the same accepted media type DRF's rule gives
(the test compares the two over a matrix of headers, queries and renderers). Anything else
(another Accept, a format suffix, a query string that may name `format`, another first
renderer) goes through DRF's negotiation unchanged, 406 included. Likewise a body sent as
`Content-Type: application/json` gets the view's first parser when that is the JSON one.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

JSON = "application/json"
# Accept headers DRF's rule resolves to a JSON first renderer with the media type as is. None:
# no header (DRF reads it as "*/*"). Not "": DRF finds no token in it and answers 406.
_PLAIN_ACCEPTS = frozenset({None, "*/*", JSON})


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and renderers
            and renderers[0].media_type == JSON
            and request.META.get("HTTP_ACCEPT") in _PLAIN_ACCEPTS
            and not self._may_name_a_format(request.META.get("QUERY_STRING", ""))
        ):
            return renderers[0], JSON
        return super().select_renderer(request, renderers, format_suffix)

    def select_parser(self, request, parsers):
        # A body sent as plain `application/json` to a view whose first parser is the JSON one:
        # DRF's rule (the first parser whose media type matches) picks that parser, after
        # parsing both media types.
        if parsers and parsers[0].media_type == JSON and request.content_type == JSON:
            return parsers[0]
        return super().select_parser(request, parsers)

    def _may_name_a_format(self, query: str) -> bool:
        """Whether DRF could read a format override from this query string: its name appears
        in it, or it has escapes that could spell it (then DRF's parse decides)."""
        name = self.settings.URL_FORMAT_OVERRIDE
        return bool(query) and bool(name) and (name in query or "%" in query)
