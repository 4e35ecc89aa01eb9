"""The API's content negotiation (healthtrack/core/api/negotiation.py) gives DRF's answer."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from healthtrack.core.api.negotiation import ContentNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "",
    "text/html",
    "application/xml",
    "application/json; indent=4",
    "*/*; q=0.8",
    "application/*",
    "text/html, application/json",
    " application/json",
]
QUERIES = ["", "limit=20", "format=json", "format=api", "%66ormat=api", "a=%20", "formats=1"]
RENDERER_SETS = [
    [JSONRenderer],
    [JSONRenderer, BrowsableAPIRenderer],
    [BrowsableAPIRenderer, JSONRenderer],
    [StaticHTMLRenderer],
]


def answer(negotiation, request, renderers, suffix):
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except Exception as exc:  # noqa: BLE001 - the refusal is part of the answer
        return type(exc).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize(
    ("accept", "query", "renderer_classes", "suffix"),
    list(itertools.product(ACCEPTS, QUERIES, RENDERER_SETS, [None, "json", "api"])),
)
def test_the_answer_is_drfs(accept, query, renderer_classes, suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    factory = APIRequestFactory()
    ours = Request(factory.post(f"/api/v1/x?{query}" if query else "/api/v1/x", **headers))
    theirs = Request(factory.post(f"/api/v1/x?{query}" if query else "/api/v1/x", **headers))
    renderers = [cls() for cls in renderer_classes]
    assert answer(ContentNegotiation(), ours, renderers, suffix) == answer(
        DefaultContentNegotiation(), theirs, renderers, suffix
    )


CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/x-www-form-urlencoded",
    "text/plain",
    "",
]
PARSER_SETS = [[JSONParser], [JSONParser, FormParser], [FormParser, JSONParser], [MultiPartParser]]


@pytest.mark.parametrize(
    ("content_type", "parser_classes"), list(itertools.product(CONTENT_TYPES, PARSER_SETS))
)
def test_the_parser_is_drfs(content_type, parser_classes):
    extra = {} if content_type is None else {"CONTENT_TYPE": content_type}
    request = Request(APIRequestFactory().generic("POST", "/api/v1/x", b"{}", **extra))
    parsers = [cls() for cls in parser_classes]
    ours = ContentNegotiation().select_parser(request, parsers)
    theirs = DefaultContentNegotiation().select_parser(request, parsers)
    assert ours is theirs


def test_the_api_uses_it_and_still_refuses_what_it_cannot_render(db):
    client = APIClient()
    assert client.get("/api/v1/metric-types", HTTP_ACCEPT="application/xml").status_code == 406
    assert client.get("/api/v1/metric-types", HTTP_ACCEPT="").status_code == 406
    ok = client.get("/api/v1/metric-types", HTTP_ACCEPT="application/json")
    assert ok.status_code == 200 and ok["Content-Type"] == "application/json"
