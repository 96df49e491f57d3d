"""The error answers of the JSON API, as documented in its OpenAPI schema.

Every route under ``/api`` documents the statuses it can answer besides its
success: 400 (malformed request line or headers), 401 (no or invalid token),
403 (role not allowed), 404 (no such record), 413 (body too large), 414 (query
too long), 422 (invalid input, in the shape the app really sends), 429
(too many failed sign-ins) and 503 (registry locked past its busy timeout).
The schemathesis test in ``tests/fuzz`` checks the app against this schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["API_ERROR_RESPONSES", "ErrorBody", "FieldError", "ValidationErrorBody"]


class FieldError(BaseModel):
    """One refused input: the dotted field, what is wrong, what would be accepted."""

    field: str
    message: str
    allowed: str | None = None
    type: str | None = None


class ValidationErrorBody(BaseModel):
    """422: every refused field, and the first one as one line in ``error``."""

    detail: list[FieldError]
    error: str = Field(description="field: message (allowed: ...), one line")


class ErrorBody(BaseModel):
    """Other errors: ``detail`` is a sentence (or the refused fields), ``error`` one line."""

    detail: str | list[FieldError]
    error: str | None = None


def _r(model: type[BaseModel], text: str) -> dict[str, Any]:
    return {"model": model, "description": text}


API_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _r(ErrorBody, "Malformed request (e.g. an invalid Content-Length)"),
    401: _r(ErrorBody, "No bearer token, or an invalid, expired or revoked one"),
    403: _r(ErrorBody, "The user's role may not do this"),
    404: _r(ErrorBody, "No such record (also for ids beyond 64 bits)"),
    413: _r(ErrorBody, "Request body larger than the configured limit"),
    414: _r(ErrorBody, "Query string too long"),
    422: _r(ValidationErrorBody, "Invalid input; names the field and what is allowed"),
    429: _r(ErrorBody, "Too many failed sign-ins; see Retry-After"),
    503: _r(
        ErrorBody,
        "The registry stayed locked past its busy timeout; nothing was written, see Retry-After",
    ),
}
