"""The bad-input table for the public models, the cases of issue 12 item 4.

Amounts must be plain ASCII decimals (no exponent, separators or other scripts' digits, and no
decimal-context overflow or silent underflow), currencies ASCII letters, countries assigned
ISO 3166-1 codes; free text refuses control characters and keeps within the lengths that the
providers and the ledger's columns take; URLs refuse anything a redirect or header could be split
on. Every row ends in ``InvalidRequest`` naming the field by its full path.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from paymux import ChargeRequest, Customer, Money, ReturnUrls
from paymux.errors import InvalidRequest

SHOP = "https://shop.example/orders/1"


def request(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "reference": "order-1",
        "amount": Money(250_000, "KES"),
        "method": "card",
        "country": "KE",
        "customer": Customer(id="customer-ke", ip_address="192.0.2.10"),
        "return_urls": ReturnUrls(success=f"{SHOP}/paid", decline=f"{SHOP}/declined"),
    }
    values.update(overrides)
    return ChargeRequest(**values)


ROWS: dict[str, tuple[Callable[[], Any], str]] = {
    # Money.of: only what a person types as an amount
    "of-exponent-overflow": (lambda: Money.of("1e999999", "SGD"), "amount"),
    "of-exponent-underflow": (lambda: Money.of("1e-999999999", "KRW"), "amount"),
    "of-decimal-overflow": (lambda: Money.of(Decimal("1e999999"), "SGD"), "amount"),
    "of-decimal-underflow": (lambda: Money.of(Decimal("1e-999999999"), "KRW"), "amount"),
    "of-decimal-beyond-any-context": (lambda: Money.of(Decimal("9e999999999"), "SGD"), "amount"),
    "of-decimal-negative": (lambda: Money.of(Decimal("-1"), "SGD"), "amount"),
    "of-int-negative": (lambda: Money.of(-1, "SGD"), "amount"),
    "of-int-huge": (lambda: Money.of(10**400, "SGD"), "amount"),
    "of-fullwidth-digits": (lambda: Money.of("１０", "KRW"), "amount"),
    "of-arabic-indic-digits": (lambda: Money.of("١٥", "KRW"), "amount"),
    "of-underscore": (lambda: Money.of("1_000", "KRW"), "amount"),
    "of-exponent": (lambda: Money.of("1e3", "KRW"), "amount"),
    "of-plus-sign": (lambda: Money.of("+5", "KRW"), "amount"),
    "of-spaces": (lambda: Money.of(" 5", "KRW"), "amount"),
    "of-trailing-dot": (lambda: Money.of("15.", "SGD"), "amount"),
    "of-leading-dot": (lambda: Money.of(".5", "SGD"), "amount"),
    "of-comma": (lambda: Money.of("1,000", "KRW"), "amount"),
    "of-very-long": (lambda: Money.of("1" * 5_000, "KRW"), "amount"),
    "of-more-digits-than-any-amount": (lambda: Money.of("1" * 17, "KRW"), "amount"),
    "of-long-s-currency": (lambda: Money.of("1", "ſgd"), "currency"),
    # currencies: ASCII letters only (str.upper maps the long s to S)
    "money-long-s-currency": (lambda: Money(100, "ſgd"), "currency"),
    "money-currency-with-spaces": (lambda: Money(100, " sgd"), "currency"),
    "money-fullwidth-currency": (lambda: Money(100, "ＳＧＤ"), "currency"),
    "money-arithmetic-with-a-number": (lambda: Money(1, "SGD") + 1, "amount"),
    # countries: assigned ISO 3166-1 alpha-2 codes
    "card-country-zz": (lambda: request(country="ZZ"), "country"),
    "country-uk-is-not-iso": (lambda: request(country="UK"), "country"),
    "country-eu-is-not-a-country": (lambda: request(country="EU"), "country"),
    "country-fullwidth": (lambda: request(country="ＫＥ"), "country"),
    "country-with-spaces": (lambda: request(country=" KE"), "country"),
    # customers
    "customer-empty-mapping": (lambda: request(customer={}), "customer.id"),
    "customer-id-nul": (lambda: request(customer={"id": "c\x00"}), "customer.id"),
    "customer-id-newline": (lambda: Customer(id="c\n1"), "id"),
    "customer-id-too-long": (lambda: Customer(id="c" * 256), "id"),
    "customer-first-name-nul": (lambda: Customer(id="c", first_name="Ji\x00"), "first_name"),
    "customer-last-name-newline": (lambda: Customer(id="c", last_name="Kim\r\n"), "last_name"),
    "customer-name-too-long": (lambda: Customer(id="c", first_name="n" * 256), "first_name"),
    "customer-email-nul": (lambda: Customer(id="c", email="a\x00@b.example"), "email"),
    "customer-line-separator": (lambda: Customer(id="c", last_name="a\u2028b"), "last_name"),
    # return URLs
    "url-crlf": (lambda: ReturnUrls(success=f"{SHOP}/ok\r\nSet-Cookie: x=1"), "success"),
    "url-tab": (lambda: ReturnUrls(success=f"{SHOP}/\tok"), "success"),
    "url-leading-space": (lambda: ReturnUrls(success=f" {SHOP}/ok"), "success"),
    "url-trailing-space": (lambda: ReturnUrls(success=f"{SHOP}/ok "), "success"),
    "url-nul": (lambda: ReturnUrls(success=SHOP, decline=f"{SHOP}/\x00"), "decline"),
    "url-del": (lambda: ReturnUrls(success=SHOP, back=f"{SHOP}/\x7f"), "back"),
    "url-bad-port": (lambda: ReturnUrls(success="https://shop.example:99999/"), "success"),
    "url-unclosed-ipv6": (lambda: ReturnUrls(success="https://[::1/"), "success"),
    "url-no-host": (lambda: ReturnUrls(success="https:///paid"), "success"),
    "url-too-long": (lambda: ReturnUrls(success=f"{SHOP}/{'p' * 2048}"), "success"),
    "request-url-nested": (
        lambda: request(return_urls={"success": f"{SHOP}/ok\n"}),
        "return_urls.success",
    ),
    # the rest of a charge request
    "description-nul": (lambda: request(description="Order\x00"), "description"),
    "method-newline": (lambda: request(method="card\n"), "method"),
    "metadata-value-nul": (lambda: request(metadata={"order": "1\x00"}), "metadata"),
    "metadata-value-too-long": (lambda: request(metadata={"note": "n" * 501}), "metadata"),
    "reference-nul": (lambda: request(reference="order\x001"), "reference"),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_models_refuse_bad_input_naming_the_field(name: str) -> None:
    make, field = ROWS[name]
    with pytest.raises(InvalidRequest) as info:
        make()
    assert info.value.field == field, str(info.value)


ACCEPTED: dict[str, tuple[Callable[[], Any], Any]] = {
    "plain-decimal": (lambda: Money.of("15.00", "SGD"), Money(1_500, "SGD")),
    "trailing-zeros-beyond-the-minor-unit": (
        lambda: Money.of("15.000", "SGD"),
        Money(1_500, "SGD"),
    ),
    "lower-case-currency": (lambda: Money.of("10", "krw"), Money(10, "KRW")),
    "decimal-with-an-exponent": (lambda: Money.of(Decimal("1E+3"), "KRW"), Money(1_000, "KRW")),
    "largest-amount": (lambda: Money.of("10000000000000.00", "SGD"), Money(10**15, "SGD")),
    "zero": (lambda: Money.of("0", "KRW"), Money(0, "KRW")),
    "lower-case-country": (lambda: request(country="ke").country, "KE"),
    "name-with-accents": (lambda: Customer(id="c", first_name="Zoë").first_name, "Zoë"),
    "url-with-query": (
        lambda: ReturnUrls(success=f"{SHOP}/ok?x=1&y=%20").success,
        f"{SHOP}/ok?x=1&y=%20",
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_good_input_is_still_accepted(name: str) -> None:
    make, expected = ACCEPTED[name]
    assert make() == expected
