"""Secret hygiene (issue 7, point 4): every flow, logged at DEBUG, leaves no secret behind.

The sandbox's emulators are switched to keys of this suite's own (nothing default), then the demo
checkouts, declines, clarification, refunds, retrieves, webhooks and the error paths (refused
credentials, dead connections, forged callbacks) run through the public API. Everything a
checkout service could print or store is then searched for the keys, the webhook secret, the
Basic-auth token and every signature computed on the way: logs, ``repr``/``str`` of each returned
model, the settings, gateways and providers, exception texts with their whole chain, and the
committed cassettes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from security_support import (
    ECOMMPAY_PROJECT_ID,
    ECOMMPAY_SECRET,
    OMISE_PUBLIC_KEY,
    OMISE_SECRET_KEY,
    OMISE_WEBHOOK_KEY,
    OMISE_WEBHOOK_SECRET,
    dumps,
)

import paymux_ecommpay.emulator as ecommpay_emulator
import paymux_omise.emulator as omise_emulator
from paymux import AsyncGateway, Gateway, Money
from paymux.errors import (
    AuthenticationError,
    PaymuxError,
    TransportError,
    WebhookVerificationError,
)
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox
from paymux.sandbox.checkout import Shopper
from paymux.sandbox.demo import scenarios
from paymux.sandbox.server import free_port

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
WRONG_ECOMMPAY_SECRET = "ecp-wrong-Vd2Xs8Qk5Jm1Rt7Hc4"
WRONG_OMISE_SECRET = "skey_test_wrongB7nK2pQ9xZ4wL"
FAST = RetryPolicy(attempts=2, initial_wait=0.0, max_wait=0.0, jitter=0.0)


def basic_token(key: str) -> str:
    return base64.b64encode(f"{key}:".encode()).decode("ascii")


@dataclass
class Evidence:
    """Everything the flows produced that a service might print, log or store."""

    texts: list[str] = field(default_factory=list)
    signatures: set[str] = field(default_factory=set)
    """Signatures computed on the way (requests, answers, callbacks): derived from the keys."""
    sent: int = 0

    def model(self, value: Any) -> None:
        self.texts += [repr(value), str(value)]

    def error(self, error: BaseException) -> None:
        self.texts += traceback.format_exception(error)
        seen: BaseException | None = error
        while seen is not None:
            self.texts += [str(seen), repr(seen)]
            seen = seen.__cause__ or seen.__context__

    def expect_error(self, kind: type[PaymuxError], call: Any) -> None:
        with pytest.raises(kind) as info:
            call()
        self.error(info.value)

    def record_request(self, request: httpx.Request) -> None:
        self.sent += 1
        auth = request.headers.get("authorization")
        if auth:
            self.signatures.add(auth.split(" ", 1)[-1])
        self._signatures_in(request.content)

    def record_response(self, response: httpx.Response) -> None:
        self._signatures_in(response.read())

    def _signatures_in(self, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            return
        for node in (payload, payload.get("general") if isinstance(payload, dict) else None):
            if isinstance(node, dict) and isinstance(node.get("signature"), str):
                self.signatures.add(node["signature"])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # The emulators read their keys from module constants at call time: point them at ours.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ecommpay_emulator, "PROJECT_ID", ECOMMPAY_PROJECT_ID)
        patch.setattr(ecommpay_emulator, "SECRET_KEY", ECOMMPAY_SECRET)
        patch.setattr(omise_emulator, "SECRET_KEY", OMISE_SECRET_KEY)
        patch.setattr(omise_emulator, "PUBLIC_KEY", OMISE_PUBLIC_KEY)
        patch.setattr(omise_emulator, "WEBHOOK_SECRET", OMISE_WEBHOOK_SECRET)
        with Sandbox() as running:
            settings = running.provider_settings()
            assert settings["ecommpay"]["secret_key"] == ECOMMPAY_SECRET
            assert settings["omise"]["secret_key"] == OMISE_SECRET_KEY
            assert settings["omise"]["webhook_secret"] == OMISE_WEBHOOK_SECRET
            yield running


def _client(evidence: Evidence) -> httpx.Client:
    return httpx.Client(
        trust_env=False,
        event_hooks={"request": [evidence.record_request], "response": [evidence.record_response]},
    )


def _gateway(settings: dict[str, Any], evidence: Evidence) -> Gateway:
    gateway = Gateway(providers=settings, http_client=_client(evidence), retry=FAST)
    evidence.model(gateway)
    for name in gateway.providers:
        provider = gateway.provider(name)
        evidence.model(provider)
        evidence.model(provider.settings)
        evidence.texts += [str(provider.describe()), provider.settings.model_dump_json()]
    evidence.texts.append(str(gateway.describe()))
    return gateway


def _checkouts(sandbox: Sandbox, gateway: Gateway, evidence: Evidence) -> None:
    shopper = Shopper(gateway, sandbox.hub, timeout=10.0)
    try:
        for scenario in scenarios("secrets"):
            result = shopper.checkout(scenario.request, refunds=scenario.refunds)
            assert result.charge.status is scenario.expected, scenario.title
            evidence.model(scenario.request)
            evidence.model(result.charge)
            evidence.texts.append(result.charge.model_dump_json())
            if result.charge.next_action is not None:
                evidence.model(result.charge.next_action)
            for refund in result.refunds:
                evidence.model(refund)
                evidence.texts.append(refund.model_dump_json())
            evidence.model(gateway.retrieve_charge(result.charge))
            evidence.model(gateway.route(scenario.request))
        for scenario in scenarios("secrets-declined"):
            result = shopper.checkout(scenario.request, action="decline")
            evidence.model(result.charge)
            assert result.charge.failure is not None
    finally:
        shopper.close()


def _webhooks(sandbox: Sandbox, gateway: Gateway, evidence: Evidence) -> None:
    callbacks = sandbox.hub.inbox()
    # Both checked providers sent some (another installed plugin may have sent more).
    assert {"ecommpay", "omise"} <= {c.provider for c in callbacks}
    for callback in callbacks:
        if "omise-signature" in callback.headers:
            evidence.signatures.add(callback.headers["omise-signature"])
        evidence._signatures_in(callback.body)
        event = gateway.parse_webhook(callback.provider, callback.body, callback.headers)
        evidence.model(event)
        evidence.texts.append(event.model_dump_json())
    # Forgeries: a changed amount, a wrong key, a stale delivery.
    ecommpay = next(c for c in callbacks if c.provider == "ecommpay")
    forged = ecommpay.body.replace(b'"amount": ', b'"amount": 1')
    evidence.expect_error(
        WebhookVerificationError, lambda: gateway.parse_webhook("ecommpay", forged, {})
    )
    omise = next(c for c in callbacks if c.provider == "omise")
    evidence.expect_error(
        WebhookVerificationError,
        lambda: gateway.parse_webhook(
            "omise", omise.body + b" ", {**omise.headers, "omise-signature": "0" * 64}
        ),
    )
    evidence.expect_error(
        WebhookVerificationError,
        lambda: gateway.parse_webhook(
            "omise", omise.body, {**omise.headers, "omise-signature-timestamp": "1"}
        ),
    )


def _errors(sandbox: Sandbox, gateway: Gateway, evidence: Evidence) -> None:
    settings = sandbox.provider_settings()
    request = scenarios("secrets-errors")[0].request
    singapore = scenarios("secrets-errors")[3].request
    # The provider refuses the credentials.
    wrong = {
        "ecommpay": {**settings["ecommpay"], "secret_key": WRONG_ECOMMPAY_SECRET},
        "omise": {**settings["omise"], "secret_key": WRONG_OMISE_SECRET},
    }
    with _gateway(wrong, evidence) as refused:
        evidence.expect_error(AuthenticationError, lambda: refused.create_charge(request))
        evidence.expect_error(AuthenticationError, lambda: refused.create_charge(singapore))
        evidence.expect_error(
            AuthenticationError, lambda: refused.retrieve_charge("omise", "chrg_test_x")
        )
    # A repeated reference answers with that attempt (the Gate's 3041, then a status request);
    # the same reference for another amount is refused.
    charge = gateway.create_charge(request)
    evidence.model(gateway.create_charge(request))
    other = request.model_copy(update={"amount": request.amount + request.amount})
    evidence.expect_error(PaymuxError, lambda: gateway.create_charge(other))
    evidence.model(gateway.retrieve_charge("ecommpay", reference=charge.reference))
    # The network fails: a connection dropped after processing, a 5xx, nobody listening.
    # A read is retried, so every attempt the policy allows is dropped.
    drops = [("/ecommpay/v2/payment/status", "drop")] * FAST.attempts
    errors = [("/omise/charges", "error")] * FAST.attempts
    sandbox.faults.update({"once": drops + errors})
    try:
        evidence.expect_error(TransportError, lambda: gateway.retrieve_charge(charge))
        evidence.expect_error(PaymuxError, lambda: gateway.retrieve_charge("omise", "chrg_test_x"))
    finally:
        sandbox.faults.once.clear()
    dead = f"http://127.0.0.1:{free_port()}"
    nobody = {
        "ecommpay": {**settings["ecommpay"], "base_url": dead},
        "omise": {**settings["omise"], "base_url": dead},
    }
    with _gateway(nobody, evidence) as unreachable:
        evidence.expect_error(TransportError, lambda: unreachable.create_charge(request))
        evidence.expect_error(TransportError, lambda: unreachable.create_charge(singapore))
    # Refused before the network, with the secrets in play.
    evidence.expect_error(PaymuxError, lambda: gateway.refund(charge, Money(1, "KRW")))
    evidence.expect_error(
        PaymuxError, lambda: Gateway(providers={"omise": {"secret_key": ECOMMPAY_SECRET}})
    )
    evidence.expect_error(
        PaymuxError,
        lambda: Gateway(providers={"ecommpay": {"project_id": "x", "secret_key": ECOMMPAY_SECRET}}),
    )


def _async_flows(sandbox: Sandbox, evidence: Evidence) -> None:
    async def record_request(request: httpx.Request) -> None:
        evidence.record_request(request)

    async def record_response(response: httpx.Response) -> None:
        evidence._signatures_in(await response.aread())

    async def flows() -> None:
        client = httpx.AsyncClient(
            trust_env=False,
            event_hooks={"request": [record_request], "response": [record_response]},
        )
        async with AsyncGateway(
            providers=sandbox.provider_settings(), http_client=client, retry=FAST
        ) as gateway:
            evidence.model(gateway)
            for scenario in scenarios("secrets-async"):
                charge = await gateway.create_charge(scenario.request)
                evidence.model(charge)
                evidence.model(await gateway.retrieve_charge(charge))
        await client.aclose()

    asyncio.run(flows())


@pytest.fixture(scope="module")
def evidence(sandbox: Sandbox) -> tuple[Evidence, list[logging.LogRecord]]:
    found = Evidence()
    handler = _ListHandler()
    root = logging.getLogger()
    # DEBUG everywhere, including loggers that set their own level (uvicorn, httpx, httpcore).
    names = ["", *logging.root.manager.loggerDict, "httpx", "httpcore", "paymux", "uvicorn"]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        with _gateway(sandbox.provider_settings(), found) as gateway:
            _checkouts(sandbox, gateway, found)
            _webhooks(sandbox, gateway, found)
            _errors(sandbox, gateway, found)
        _async_flows(sandbox, found)
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    return found, handler.records


class _ListHandler(logging.Handler):
    """Keeps every record, formatted with its exception, from every thread (the sandbox's too)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        record.formatted = self.format(record)  # type: ignore[attr-defined]
        self.records.append(record)


def _secrets(evidence: Evidence) -> dict[str, str]:
    values = {
        "ECommPay secret key": ECOMMPAY_SECRET,
        "wrong ECommPay secret key": WRONG_ECOMMPAY_SECRET,
        "Omise secret key": OMISE_SECRET_KEY,
        "wrong Omise secret key": WRONG_OMISE_SECRET,
        "Omise webhook secret": OMISE_WEBHOOK_SECRET,
        "Omise webhook key": OMISE_WEBHOOK_KEY.decode(),
        "Omise Basic token": basic_token(OMISE_SECRET_KEY),
        "wrong Omise Basic token": basic_token(WRONG_OMISE_SECRET),
    }
    values.update({f"signature {s[:12]}...": s for s in evidence.signatures})
    return values


def _hits(texts: list[str], secrets: dict[str, str]) -> list[str]:
    return [
        f"{what} in: {text[:200]!r}"
        for text in texts
        for what, secret in secrets.items()
        if secret in text
    ]


def test_the_flows_really_used_the_secrets(
    evidence: tuple[Evidence, list[logging.LogRecord]],
) -> None:
    """The scans below prove nothing unless the flows signed, authenticated and logged."""
    found, records = evidence
    assert found.sent > 40
    assert basic_token(OMISE_SECRET_KEY) in found.signatures
    assert len(found.signatures) > 20, "ECommPay requests, answers and callbacks were signed"
    assert any(r.levelno == logging.DEBUG and r.name.startswith("paymux") for r in records)
    assert any(r.name.startswith("httpx") for r in records)
    assert any(r.levelno >= logging.WARNING for r in records), "the error paths were logged"


def test_logs_hold_no_secret(evidence: tuple[Evidence, list[logging.LogRecord]]) -> None:
    found, records = evidence
    texts = [r.formatted for r in records]  # type: ignore[attr-defined]
    texts += [str(r.args) for r in records]
    # The structured attributes (provider, reference, url, request_id, ...) a JSON formatter prints.
    texts += [repr(vars(r)) for r in records]
    assert _hits(texts, _secrets(found)) == []


def test_models_settings_gateways_and_errors_hold_no_secret(
    evidence: tuple[Evidence, list[logging.LogRecord]],
) -> None:
    found, _ = evidence
    assert len(found.texts) > 100
    assert _hits(found.texts, _secrets(found)) == []


# -- cassettes --------------------------------------------------------------------------------------

_KEYS = re.compile(r"\b[sp]key_(?:test_)?[A-Za-z0-9]+")


def _cassettes() -> list[Path]:
    return sorted(CASSETTES.rglob("*.yaml"))


def test_cassettes_hold_no_configured_secret() -> None:
    files = _cassettes()
    assert files, "the cassettes folder moved"
    secrets = _secrets(Evidence())
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _hits([text], secrets) == [], path
        # A real key recorded by mistake would look like a key; the scrubber writes placeholders.
        assert {m for m in _KEYS.findall(text) if m.startswith("skey_")} <= {"skey_test_paymux"}, (
            path
        )


@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cassette_requests_carry_no_credential_or_signature(path: Path) -> None:
    cassette = yaml.safe_load(path.read_text(encoding="utf-8"))
    for interaction in cassette["interactions"]:
        request, response = interaction["request"], interaction["response"]
        for name, values in request.get("headers", {}).items():
            if name.lower() in ("authorization", "cookie"):
                assert values == ["REDACTED"], f"{path}: {name}"
        url = httpx.URL(request["uri"])
        assert url.params.get("signature") in (None, "REDACTED"), path
        body = request.get("body")
        if body:
            for match in re.finditer(r'"(signature|secret_key)"\s*:\s*"([^"]*)"', str(body)):
                assert match.group(2) == "REDACTED", f"{path}: {match.group(1)}"
        names = {n.lower() for n in response.get("headers", {})}
        assert not names & {"set-cookie", "omise-signature"}, path


def test_ecommpay_webhook_body_signature_is_found_by_the_scan() -> None:
    """The scanner itself: a signature that reached a text is reported."""
    found = Evidence()
    found._signatures_in(dumps({"general": {"signature": "c2lnbmF0dXJl"}}))
    assert _hits(["log: c2lnbmF0dXJl"], _secrets(found))


@pytest.mark.parametrize(
    "providers",
    [
        pytest.param({"omise": {"secret_key": ECOMMPAY_SECRET}}, id="omise-key-in-wrong-shape"),
        pytest.param(
            {"ecommpay": {"project_id": "x", "secret_key": ECOMMPAY_SECRET}}, id="ecommpay"
        ),
        pytest.param(
            {"omise": {"secret_key": OMISE_SECRET_KEY, "webhook_secret": ECOMMPAY_SECRET}},
            id="omise-webhook-secret-not-base64",
        ),
    ],
)
def test_settings_errors_keep_no_secret_anywhere_in_their_chain(
    providers: dict[str, Any],
) -> None:
    # Found by this suite: ``raise ... from None`` inside ``except ValidationError`` still kept
    # pydantic's error, secret input and all, as ``__context__`` for error reporters to find.
    with pytest.raises(PaymuxError) as info:
        Gateway(providers=providers)
    found = Evidence()
    found.error(info.value)
    assert info.value.__context__ is None
    assert _hits(found.texts, _secrets(found)) == []
