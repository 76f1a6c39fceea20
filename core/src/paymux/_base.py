"""Shared pydantic base for the public models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import InvalidRequest


def _describe(error: ValidationError) -> tuple[str, str | None]:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    message = str(first["msg"]).removeprefix("Value error, ")
    more = error.error_count() - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return message, field


class Model(BaseModel):
    """Frozen, strict-about-extras model whose constructor raises :class:`InvalidRequest`.

    pydantic's own ``ValidationError`` is a ``ValueError``; users of paymux catch
    ``paymux.errors.PaymuxError`` instead, and get the offending field's name.
    """

    # Schemas are built on first use: most of a model's cost is its schema, and a process that
    # imports paymux to read one setting should not pay for all of them.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, defer_build=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            message, field = _describe(exc)
            raise InvalidRequest(message, field=field) from None
