"""Exact money: integer minor units of an ISO 4217 currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator

from ._base import Model
from .errors import InvalidRequest

# Upper bound keeps amounts inside a signed 64-bit column and every provider's integer fields.
MAX_MINOR_UNITS = 10**15

MinorUnits = Annotated[int, Field(strict=True, ge=0, le=MAX_MINOR_UNITS)]


@lru_cache(maxsize=256)
def currency_exponent(code: str) -> int:
    """Number of decimal places of an ISO 4217 currency (KRW 0, USD 2, BHD 3).

    Raises :class:`InvalidRequest` for codes ISO 4217 does not list, or lists without a minor unit.
    """
    # Imported lazily: the package parses the ISO table on import (~30 ms).
    import iso4217

    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isupper()):
        raise InvalidRequest(
            f"{code!r} is not an ISO 4217 code (three upper-case letters)", field="currency"
        )
    try:
        exponent = iso4217.Currency(code).exponent
    except ValueError:
        raise InvalidRequest(f"{code!r} is not an ISO 4217 currency", field="currency") from None
    if exponent is None:
        raise InvalidRequest(f"{code} has no minor unit, so it cannot be charged", field="currency")
    return int(exponent)


class Money(Model):
    """An amount in the currency's minor unit: ``Money(1000, "KRW")`` is 1,000 won,
    ``Money(1500, "SGD")`` is 15.00 Singapore dollars.

    Floats, booleans, strings and negative numbers are refused; use :meth:`of` for decimal input.
    Arithmetic and ordering work only between amounts of the same currency.
    """

    amount: MinorUnits
    currency: str

    def __init__(self, amount: Any = None, currency: Any = None, /, **data: Any) -> None:
        if amount is not None:
            data["amount"] = amount
        if currency is not None:
            data["currency"] = currency
        super().__init__(**data)

    @field_validator("currency", mode="before")
    @classmethod
    def _known_currency(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be an ISO 4217 code such as 'KRW'")
        code = value.strip().upper()
        try:
            currency_exponent(code)
        except InvalidRequest as exc:
            raise ValueError(exc.reason) from None
        return code

    @classmethod
    def of(cls, value: str | int | Decimal, currency: str) -> Money:
        """Build from a major-unit decimal: ``Money.of("15.00", "SGD").amount == 1500``.

        Refuses floats (use a string) and values with more decimals than the currency has.
        """
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidRequest(
                f"expected a decimal string, int or Decimal, got {type(value).__name__}"
                " (floats cannot hold money exactly; pass a string such as '15.00')",
                field="amount",
            )
        code = currency.strip().upper() if isinstance(currency, str) else currency
        exponent = currency_exponent(code)
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise InvalidRequest(f"{value!r} is not a decimal number", field="amount") from None
        if not number.is_finite():
            raise InvalidRequest(f"{value!r} is not a finite amount", field="amount")
        minor = number.scaleb(exponent)
        if minor != minor.to_integral_value():
            raise InvalidRequest(
                f"{value} {code} has more than {exponent} decimal place(s), the currency's minor unit",
                field="amount",
            )
        return cls(int(minor), code)

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal('15.00')`` for 1500 SGD)."""
        return Decimal(self.amount).scaleb(-self.exponent)

    def zero(self) -> Money:
        return Money(0, self.currency)

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidRequest(
                f"cannot combine {self.currency} with {other.currency}; convert first",
                field="currency",
            )
        return other

    def __add__(self, other: object) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: object) -> Money:
        result = self.amount - self._same(other).amount
        if result < 0:
            raise InvalidRequest(f"{self} - {other} would be negative", field="amount")
        return Money(result, self.currency)

    def __lt__(self, other: object) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: object) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: object) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: object) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def __str__(self) -> str:
        return f"{self.to_decimal():,} {self.currency}"

    def __repr__(self) -> str:
        return f"Money({self.amount}, {self.currency!r})"
