"""drf-spectacular post-processing: the error responses every API operation can give.

Views annotate their success responses (and the errors particular to them); the errors that
come from the framework around every view are added here, once, where an operation does not
already document them, in the DRF shapes `healthtrack.core.api.errors` produces:
`{"detail": "..."}` or `{"field": ["message", ...]}`.

- 400 when the operation takes a body or parameters (validation), or is a write: a write that
  takes no body refuses one with fields (`healthtrack.core.api.strict.NoBodyMixin`);
- 401 and 403 when it needs a signed-in user (no or bad credentials; not allowed);
- 404 when its path names an object, or a query parameter names whose data (`member`,
  `user_id`): someone else's object or a person one may not read is 404, never 403; and
  with `page` / `cursor` (an invalid page or cursor is 404, as DRF's paginators answer);
- 415 when it takes a body, or is a write (a content type other than the documented ones);
- 429 everywhere (per-IP throttles and rate limits, with `Retry-After`).
"""

from __future__ import annotations

ERROR_COMPONENT = "ApiError"
ERROR_SCHEMA = {
    "type": "object",
    "description": 'A DRF error: `{"detail": "message"}` or `{"field": ["message", ...]}`.',
    "additionalProperties": True,
}
STANDARD = {
    "400": "Invalid input: the message names each field or parameter that is wrong.",
    "401": "Not signed in, or the credentials are invalid or expired.",
    "403": "Signed in but not allowed to do this.",
    "404": "No such object for this user (someone else's object is 404, never 403).",
    "415": "Unsupported content type.",
    "429": "Too many requests: try again after `Retry-After` seconds.",
}
METHODS = {"get", "post", "put", "patch", "delete"}
# Query parameters naming whose data: a person one may not read or act for is 404.
OWNER_PARAMS = {"member", "user_id"}
# DRF's paginators answer an unknown page or a corrupt cursor with 404 ("Invalid page.").
PAGE_PARAMS = {"page", "cursor"}


def _needs_auth(operation: dict) -> bool:
    security = operation.get("security")
    return security is None or {} not in security


def add_standard_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            params = operation.get("parameters", [])
            has_body = "requestBody" in operation
            is_write = method != "get"
            codes = ["429"]
            if has_body or params or is_write:
                codes.append("400")
            if _needs_auth(operation):
                codes += ["401", "403"]
            if "{" in path or any(p.get("name") in OWNER_PARAMS | PAGE_PARAMS for p in params):
                codes.append("404")
            if has_body or is_write:
                codes.append("415")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": STANDARD[code],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result
