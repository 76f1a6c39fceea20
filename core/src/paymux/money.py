"""Exact money: integer minor units of an ISO 4217 currency."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator

from ._base import Model
from .errors import InvalidRequest

# Upper bound keeps amounts inside a signed 64-bit column and every provider's integer fields.
MAX_MINOR_UNITS = 10**15

MinorUnits = Annotated[int, Field(strict=True, ge=0, le=MAX_MINOR_UNITS)]

# Only what a person types as an amount: Decimal() alone would also take exponents ("1e3"),
# underscores ("1_000") and any script's digits (fullwidth, Arabic-Indic...), none of which a
# checkout means.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Long enough for the largest amount with spare trailing zeros; keeps parsing cheap and bounded.
_MAX_AMOUNT_TEXT = 40
# MAX_MINOR_UNITS has 16 digits: any amount whose major part has more cannot be valid.
_MAX_MAJOR_DIGITS = 16


def _currency_code(value: object) -> str:
    """Three ASCII letters, upper-cased. ``str.upper`` alone maps the long s (U+017F) to "S"."""
    if not isinstance(value, str):
        raise InvalidRequest(
            f"expected an ISO 4217 code such as 'KRW', got {type(value).__name__}",
            field="currency",
        )
    if not (len(value) == 3 and value.isascii() and value.isalpha()):
        raise InvalidRequest(
            "must be three ASCII letters, an ISO 4217 code such as 'KRW'", field="currency"
        )
    return value.upper()


def _minor_units(number: Decimal, exponent: int, shown: str, code: str) -> int:
    """``number`` major units as an exact count of minor units, without decimal contexts
    (whose precision and exponent limits round, overflow or underflow silently or loudly)."""
    if not number.is_finite():
        raise InvalidRequest(f"{shown} is not a finite amount", field="amount")
    sign, digits, power = number.as_tuple()
    assert isinstance(power, int)  # finite
    significant = list(digits)
    while significant and significant[-1] == 0:
        significant.pop()
        power += 1
    if not significant:
        return 0
    if sign:
        raise InvalidRequest(f"{shown} is negative; amounts are positive", field="amount")
    if len(significant) + power > _MAX_MAJOR_DIGITS:
        raise InvalidRequest(
            f"{shown} is larger than the largest amount paymux handles", field="amount"
        )
    shift = power + exponent
    if shift < 0:
        raise InvalidRequest(
            f"{shown} {code} has more than {exponent} decimal place(s), the currency's minor unit",
            field="amount",
        )
    scale: int = 10**shift
    return int("".join(map(str, significant))) * scale


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
        try:
            code = _currency_code(value)
            currency_exponent(code)
        except InvalidRequest as exc:
            raise ValueError(exc.reason) from None
        return code

    @classmethod
    def _minor(cls, amount: int, currency: str) -> Money:
        """``Money(amount, currency)`` for a hot path (a webhook's translation): the validators'
        checks done here, without pydantic's overhead. Anything they would refuse goes through
        the validating constructor, so the error is the same."""
        if type(amount) is int and 0 <= amount <= MAX_MINOR_UNITS:
            try:
                code = _currency_code(currency)
                currency_exponent(code)
            except InvalidRequest:
                pass
            else:
                return cls._from_checked({"amount": amount, "currency": code})
        return cls(amount, currency)

    @classmethod
    def of(cls, value: str | int | Decimal, currency: str) -> Money:
        """Build from a major-unit decimal: ``Money.of("15.00", "SGD").amount == 1500``.

        Text must be plain ASCII decimal: digits, optionally a ``.`` and more digits. No sign
        (amounts are positive), exponent, digit separators, spaces or non-ASCII digits. Refuses
        floats (use a string) and values with more decimals than the currency has.
        """
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidRequest(
                f"expected a decimal string, int or Decimal, got {type(value).__name__}"
                " (floats cannot hold money exactly; pass a string such as '15.00')",
                field="amount",
            )
        code = _currency_code(currency)
        exponent = currency_exponent(code)
        if isinstance(value, str):
            if len(value) > _MAX_AMOUNT_TEXT or not _PLAIN_DECIMAL.fullmatch(value):
                raise InvalidRequest(
                    "must be a plain decimal such as '15.00': ASCII digits and an optional"
                    " '.', no sign, exponent, separators or spaces",
                    field="amount",
                )
            number = Decimal(value)
        elif isinstance(value, int):
            if value < 0:
                raise InvalidRequest(f"{value} is negative; amounts are positive", field="amount")
            if value > MAX_MINOR_UNITS:
                raise InvalidRequest(
                    "is larger than the largest amount paymux handles", field="amount"
                )
            number = Decimal(value)
        else:
            number = value
        text = str(value)
        shown = text if len(text) <= _MAX_AMOUNT_TEXT else f"{text[:_MAX_AMOUNT_TEXT]}..."
        return cls(_minor_units(number, exponent, shown, code), code)

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal('15.00')`` for 1500 SGD)."""
        return Decimal(self.amount).scaleb(-self.exponent)

    def zero(self) -> Money:
        # This currency is already checked: no need to validate it again (every charge asks).
        return Money._from_checked({"amount": 0, "currency": self.currency})

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            # A typed error, like every other bad input: callers catch PaymuxError.
            raise InvalidRequest(
                f"cannot combine Money with {type(other).__name__}", field="amount"
            )
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
