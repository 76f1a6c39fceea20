"""The template plugin and its emulator complete a checkout together, as a plugin author's would.

Everything runs on loopback through ``Sandbox``: create, the customer pays on the hosted page,
the signed webhook arrives and is verified, a partial refund, look-ups by id and by reference.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from paymux import ChargeRequest, ChargeStatus, Customer, Gateway, Money, RedirectToUrl, ReturnUrls
from paymux.errors import NotFound, WebhookVerificationError
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox
from paymux.sandbox.server import emulator_classes
from paymux_template.emulator import TemplateEmulator

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(emulators={"template": TemplateEmulator}) as running:
        yield running


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[Gateway]:
    with Gateway(providers=sandbox.provider_settings(), retry=RetryPolicy(attempts=1)) as gateway:
        yield gateway


def _request(amount: int = 2500) -> ChargeRequest:
    return ChargeRequest(
        reference=f"template-order-{next(_numbers)}",
        amount=Money(amount, "EUR"),
        method="wallet",
        country="NL",
        customer=Customer(id="customer-1"),
        return_urls=ReturnUrls(success="https://shop.example/ok"),
    )


def _next_webhook(sandbox: Sandbox, seen: int) -> tuple[bytes, dict[str, str]]:
    received = sandbox.hub.wait_for_callback("template", seen)
    assert received is not None, "the emulator sent no webhook"
    return received.body, received.headers


def test_a_checkout_is_paid_refunded_and_reported_by_signed_webhooks(
    sandbox: Sandbox, gw: Gateway
) -> None:
    charge = gw.create_charge(_request())
    assert charge.status is ChargeStatus.REQUIRES_ACTION
    assert isinstance(charge.next_action, RedirectToUrl)

    seen = len(sandbox.hub.inbox("template"))
    sandbox.hub.act("template", charge.id, "pay")
    event = gw.parse_webhook("template", *_next_webhook(sandbox, seen))
    assert event.charge is not None
    assert (event.charge.id, event.charge.status) == (charge.id, ChargeStatus.SUCCEEDED)

    paid = gw.retrieve_charge(charge)
    refund = gw.refund(paid, Money(1000, "EUR"))
    refund_event = gw.parse_webhook("template", *_next_webhook(sandbox, seen + 1))
    assert refund_event.refund is not None and refund_event.refund.id == refund.id
    after = gw.retrieve_charge("template", charge.reference or "")
    assert after.status is ChargeStatus.PARTIALLY_REFUNDED
    assert after.refunded_amount == Money(1000, "EUR")  # cumulative
    assert [r.id for r in gw.list_refunds(after)] == [refund.id]


def test_a_redelivered_webhook_keeps_its_event_id(sandbox: Sandbox, gw: Gateway) -> None:
    charge = gw.create_charge(_request())
    seen = len(sandbox.hub.inbox("template"))
    sandbox.hub.act("template", charge.id, "decline")
    body, headers = _next_webhook(sandbox, seen)
    first, again = (
        gw.parse_webhook("template", body, headers),
        gw.parse_webhook("template", body, headers),
    )
    assert first.id == again.id
    assert first.charge is not None and first.charge.status is ChargeStatus.FAILED


def test_a_tampered_webhook_is_refused(sandbox: Sandbox, gw: Gateway) -> None:
    charge = gw.create_charge(_request())
    seen = len(sandbox.hub.inbox("template"))
    sandbox.hub.act("template", charge.id, "decline")
    body, headers = _next_webhook(sandbox, seen)
    forged = body.replace(b'"failed"', b'"succeeded"')
    with pytest.raises(WebhookVerificationError):
        gw.parse_webhook("template", forged, headers)


def test_a_repeated_create_returns_the_first_charge(gw: Gateway) -> None:
    request = _request()
    assert gw.create_charge(request).id == gw.create_charge(request).id


def test_unknown_ids_and_references_are_not_found(gw: Gateway) -> None:
    for value in ("ch_999999", "never-used-reference"):
        with pytest.raises(NotFound) as info:
            gw.retrieve_charge("template", value)
        assert info.value.conclusive


def test_the_default_sandbox_leaves_the_example_plugin_out() -> None:
    assert "template" not in emulator_classes()
    assert "template" in emulator_classes(examples=True)
