"""The core runs a plugin's webhook as verify -> translate, and no_io makes flows that send nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from paymux import Capability, Charge, ChargeRequest, Money, Refund, WebhookEvent
from paymux.errors import InvalidRequest, WebhookParseError, WebhookVerificationError
from paymux.payload import Payload
from paymux.provider import (
    ChargeLookup,
    Flow,
    Provider,
    ProviderSettings,
    VerifiedWebhook,
    no_io,
)
from paymux.testing import no_network, run_flow
from paymux.webhook_security import any_signature_matches


class Settings(ProviderSettings):
    secret: SecretStr = SecretStr("whsec_split_test")


class Split(Provider[Settings]):
    """Only the webhook half of a provider; it records which steps ran."""

    plugin_name: ClassVar[str] = "split"
    settings_model: ClassVar[type[ProviderSettings]] = Settings

    def __init__(self, settings: Settings, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.translated: list[Any] = []

    def capabilities(self) -> list[Capability]:
        return []

    def create_charge(self, request: ChargeRequest) -> Flow[Charge]:
        return no_io(lambda: _never())

    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]:
        return no_io(lambda: _never())

    def refund(
        self, charge: Charge, amount: Money, *, reason: str | None, reference: str
    ) -> Flow[Refund]:
        return no_io(lambda: _never())

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[VerifiedWebhook[Any]]:
        def check() -> VerifiedWebhook[Any]:
            key = self.settings.secret.get_secret_value().encode()
            good = hmac.new(key, body, hashlib.sha256).hexdigest()
            if not any_signature_matches([good], [headers.get("x-signature", "")]):
                raise WebhookVerificationError("bad signature")
            return self.verified(Payload.of(json.loads(body)))

        return no_io(check)

    def translate_webhook(self, verified: VerifiedWebhook[Any]) -> Flow[WebhookEvent]:
        self.translated.append(verified.payload)
        payload: Payload = verified.payload
        return no_io(
            lambda: WebhookEvent(
                provider=self.name,
                id=payload.text("id"),
                type="other",
                verified_by=verified.verified_by,
            )
        )


def _never() -> Any:
    raise AssertionError("not used here")


def _signed(body: bytes) -> dict[str, str]:
    return {"x-signature": hmac.new(b"whsec_split_test", body, hashlib.sha256).hexdigest()}


def test_a_verified_body_is_translated() -> None:
    provider = Split(Settings())
    body = b'{"id": "evt_1"}'
    event = run_flow(provider.parse_webhook(body, _signed(body)), no_network)
    assert (event.id, event.verified_by) == ("evt_1", "signature")


def test_a_forged_body_never_reaches_translate() -> None:
    provider = Split(Settings())
    with pytest.raises(WebhookVerificationError):
        run_flow(provider.parse_webhook(b'{"id": "evt_1"}', {"x-signature": "00"}), no_network)
    assert provider.translated == []


def test_an_unreadable_verified_body_is_a_webhook_parse_error() -> None:
    provider = Split(Settings())
    body = b'{"id": 7}'
    with pytest.raises(WebhookParseError, match="'id' is not a non-empty string"):
        run_flow(provider.parse_webhook(body, _signed(body)), no_network)


def test_an_unreadable_unverified_body_is_a_verification_error() -> None:
    class ReadsFirst(Split):
        def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[Any]:
            return no_io(lambda: Payload.of(json.loads(body)).text("id"))

    with pytest.raises(WebhookVerificationError, match="cannot be verified"):
        run_flow(ReadsFirst(Settings()).parse_webhook(b'{"id": 7}', {}), no_network)


def test_a_verify_step_that_returns_something_else_is_refused() -> None:
    class Careless(Split):
        def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[Any]:
            return no_io(lambda: json.loads(body))

    provider = Careless(Settings())
    with pytest.raises(WebhookVerificationError, match="not this provider's VerifiedWebhook"):
        run_flow(provider.parse_webhook(b'{"id": "evt_1"}', {}), no_network)
    assert provider.translated == []


def test_a_proof_made_by_another_provider_is_refused() -> None:
    class Borrower(Split):
        def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[Any]:
            return no_io(lambda: VerifiedWebhook("someone-else", Payload({"id": "x"})))

    with pytest.raises(WebhookVerificationError):
        run_flow(Borrower(Settings()).parse_webhook(b"{}", {}), no_network)


def test_a_provider_without_webhooks_refuses_every_delivery() -> None:
    class Silent(Split):
        verify_webhook = Provider.verify_webhook  # type: ignore[assignment]

    with pytest.raises(WebhookVerificationError, match="does not verify webhooks"):
        run_flow(Silent(Settings()).parse_webhook(b"{}", {}), no_network)


def test_a_plugin_that_overrides_parse_webhook_alone_still_works() -> None:
    class Legacy(Split):
        def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[WebhookEvent]:
            return no_io(lambda: WebhookEvent(provider=self.name, id="legacy", type="other"))

    event = run_flow(Legacy(Settings()).parse_webhook(b"{}", {}), no_network)
    assert event.id == "legacy"


def test_no_io_runs_nothing_until_driven_and_then_returns_or_raises() -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 7

    flow = no_io(compute)
    assert calls == []
    assert run_flow(flow, no_network) == 7

    def refuse() -> int:
        raise InvalidRequest("no", field="x")

    refusing = no_io(refuse)
    with pytest.raises(InvalidRequest):
        run_flow(refusing, no_network)


def test_a_verified_webhook_shows_no_payload_in_its_repr() -> None:
    verified = Split(Settings()).verified({"signature": "c2lnbmVk", "email": "a@example.com"})
    assert "c2lnbmVk" not in repr(verified)
    assert "a@example.com" not in repr(verified)
