"""Shared pydantic base for the public models."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import InvalidRequest


class _ModelInvalid(InvalidRequest, ValueError):
    """What a model's constructor raises. Also a ``ValueError`` because pydantic calls the
    constructor of a model nested in another (``ChargeRequest(customer={})``): a ValueError is
    reported under the outer field, so the path becomes ``customer.id`` rather than ``id``."""


def _describe(error: ValidationError) -> tuple[str, str | None]:
    first = error.errors(include_url=False)[0]
    path = [str(part) for part in first["loc"]]
    message = str(first["msg"]).removeprefix("Value error, ")
    inner = first.get("ctx", {}).get("error")
    if isinstance(inner, InvalidRequest):
        message = inner.reason
        path += [inner.field] if inner.field else []
    field = ".".join(path) or None
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
            raise _ModelInvalid(message, field=field) from None

    @classmethod
    def _from_checked(cls, values: dict[str, Any]) -> Self:
        """An instance from ``values`` that paymux's own code produced with the field's exact
        types and checked as the validators would (every field, in declaration order).

        For hot paths only (a webhook's translation): pydantic's validation of already typed
        values costs more than the rest of the translation. Never pass a value read from a
        payload without those checks. Unlike ``model_construct``, it refuses missing or unknown
        fields instead of filling or dropping them.
        """
        if values.keys() != cls.__pydantic_fields__.keys():
            raise TypeError(f"{cls.__name__}: _from_checked needs exactly every field")
        instance = cls.__new__(cls)
        setattr_ = object.__setattr__  # the model is frozen
        setattr_(instance, "__dict__", values)
        setattr_(instance, "__pydantic_fields_set__", set(values))
        setattr_(instance, "__pydantic_extra__", None)
        setattr_(instance, "__pydantic_private__", None)
        return instance
