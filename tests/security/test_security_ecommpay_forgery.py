"""Forging ECommPay callbacks without the key (issue 11, items 1 and 6).

ECommPay's signature covers the text ``path:value;path:value;...`` and escapes neither ``;`` nor
``:``, so the only way to forge a callback without the key is to reuse a genuine signature over a
*different* JSON document that flattens to the same text. The crafted variants below do exactly
that, and nothing else: every one keeps the signed text of something paymux or the Gate signed
byte for byte (checked), so the signature always matches and only paymux's other checks stand
between the variant and a reported event. Confirmation through the Gate is off here, so these
checks are tested alone; the module prints how many variants were tried and how many got through.

* Re-chunking a genuine callback: any run of neighbouring ``path:value`` pairs joined into one
  text and cut again at any ``:`` into a new path (keys may then hold ``;``) and value. This is
  "moving leaves between keys": a status swallowed by its neighbour, a QR code dropped, an id with
  a suffix, a success turned into pending.
* Anything else paymux signs offered as a callback: Payment Page parameters and Gate request
  bodies (sale, refund, status, clarification), as they are and re-chunked the same way.
* The literal attack of the issue: a first name that smuggles a payment object into a Payment
  Page link's signature.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from security_support import (
    ECOMMPAY_PROJECT_ID,
    ECOMMPAY_SECRET,
    ecommpay_seed_payloads,
    ecommpay_settings,
    ecommpay_signed,
    forbidden_client,
    only_paymux_errors,
)

from paymux import ChargeRequest, Customer, Gateway, Money, ReturnUrls, WebhookEvent
from paymux.errors import InvalidRequest, WebhookVerificationError
from paymux_ecommpay import requests as gate_requests
from paymux_ecommpay import sign, string_to_sign
from paymux_ecommpay.requests_payment_page import payment_page_params
from paymux_ecommpay.settings import EcommpaySettings
from paymux_ecommpay.signing import path_order_key
from paymux_ecommpay.signing import signed as signed_request

SEEDS = ecommpay_seed_payloads()
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        f"ECommPay forgery: {TALLY[kind + ':tried']:,} crafted variants of {kind} tried, all"
        f" with the genuine signed text; {TALLY[kind + ':accepted']} accepted"
        for kind in ("genuine callbacks", "paymux-signed payloads", "issue attacks")
    ]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    # Shown in every run, not only when a test fails: the count is part of the result.
    with capture.global_and_fixture_disabled():
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)
            else:  # pragma: no cover - run without the terminal plugin
                print(line)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    settings_ = ecommpay_settings(confirm_callbacks=False)
    with Gateway(providers={"ecommpay": settings_}, http_client=forbidden_client()) as gw:
        yield gw


# -- building documents from signed text -----------------------------------------------------------

Leaf = tuple[tuple[str, ...], str]


def _flat(node: Any, path: tuple[str, ...], out: list[Leaf]) -> None:
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            _flat(value, (*path, str(key)), out)
    else:
        out.append((path, _rendered(node)))


def _leaves(document: dict[str, Any]) -> list[Leaf]:
    """The ``path:value`` pairs of ``document`` in the order they are signed (its keys may hold
    ``;`` but never ``:``, as the cuts below make them)."""
    out: list[Leaf] = []
    _flat(document, (), out)
    natural = path_order_key(True)
    return sorted(out, key=lambda leaf: natural(":".join(leaf[0])))


def _cuts(leaves: list[Leaf], start: int, length: int) -> Iterator[list[Leaf]]:
    """``leaves`` with ``leaves[start:start+length]`` joined and cut again at every ``:``."""
    window = leaves[start : start + length]
    text = ";".join(":".join((*path, value)) for path, value in window)
    at = text.find(":")
    while at >= 0:
        path, value = text[:at], text[at + 1 :]
        yield [*leaves[:start], (tuple(path.split(":")), value), *leaves[start + length :]]
        at = text.find(":", at + 1)


def _document(leaves: list[Leaf], originals: dict[tuple[str, ...], Any]) -> dict[str, Any] | None:
    """The JSON document with these leaves, or None if two of them collide."""
    root: dict[str, Any] = {}
    for path, value in leaves:
        if not path or any(not part for part in path):
            return None
        node = root
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                return None
            node = child
        if path[-1] in node:
            return None
        # Unchanged leaves keep their JSON type; new ones are text, or a number if they read so.
        if path in originals and _rendered(originals[path]) == value:
            node[path[-1]] = originals[path]
        else:
            node[path[-1]] = (
                int(value) if value.isascii() and value.isdigit() and len(value) < 16 else value
            )
    return _lists(root)  # type: ignore[no-any-return]


def _rendered(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return {True: "1", False: "0", None: ""}[value]
    return str(value)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and list(converted) == [str(i) for i in range(len(converted))]:
        return list(converted.values())
    return converted


def _originals(document: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {}
    items = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else None
    )
    if items is None:
        return {prefix: document}
    for key, value in items:
        found.update(_originals(value, (*prefix, str(key))))
    return found


def variants(unsigned: dict[str, Any], *, longest: int = 4) -> Iterator[dict[str, Any]]:
    """Every single re-chunking of ``unsigned``'s signed text (windows of 1..``longest`` leaves)
    that builds a different document with exactly the same signed text."""
    text = string_to_sign(unsigned)
    leaves = _leaves(unsigned)
    assert ";".join(":".join((*path, value)) for path, value in leaves) == text
    originals = _originals(unsigned)
    # The document as its leaves alone rebuild it (empty containers, which sign nothing, gone):
    # that is the genuine callback itself, not a variant.
    seen = {
        json.dumps(unsigned, sort_keys=True),
        json.dumps(_document(leaves, originals), sort_keys=True),
    }
    for length in range(1, longest + 1):
        for start in range(len(leaves) - length + 1):
            for cut in _cuts(leaves, start, length):
                document = _document(cut, originals)
                if document is None:
                    continue
                key = json.dumps(document, sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                try:
                    same = string_to_sign(document) == text
                except ValueError:
                    continue
                if same:
                    yield document


def _offer(gw: Gateway, document: dict[str, Any], signature: str, kind: str) -> Any:
    body = json.dumps({**document, "signature": signature}, ensure_ascii=False).encode()
    TALLY[kind + ":tried"] += 1
    outcome = only_paymux_errors(lambda: gw.parse_webhook("ecommpay", body, {}))
    if isinstance(outcome, WebhookEvent):
        TALLY[kind + ":accepted"] += 1
    return outcome


# -- 1. moving leaves of genuine callbacks --------------------------------------------------------


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_no_rechunked_genuine_callback_is_accepted(gateway: Gateway, seed: int) -> None:
    unsigned = SEEDS[seed]
    genuine = ecommpay_signed(unsigned)
    assert _offer(gateway, unsigned, genuine["signature"], "genuine callbacks:control").id
    tried = 0
    for document in variants(unsigned):
        tried += 1
        outcome = _offer(gateway, document, genuine["signature"], "genuine callbacks")
        assert isinstance(outcome, WebhookVerificationError), (
            f"a re-arranged callback was accepted: {json.dumps(document)[:400]}"
        )
    assert tried > 50  # the generator found real work to do


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(_document(_leaves(document), _originals(document)), sort_keys=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(SEEDS))), data=st.data())
def test_no_repeatedly_rechunked_callback_is_accepted(
    gateway: Gateway, seed: int, data: st.DataObject
) -> None:
    # Several cuts one after the other: e.g. a status swallowed *and* an id given a suffix.
    unsigned = SEEDS[seed]
    text = string_to_sign(unsigned)
    signature = ecommpay_signed(unsigned)["signature"]
    originals = _originals(unsigned)
    leaves = _leaves(unsigned)
    for _ in range(data.draw(st.integers(2, 5))):
        length = data.draw(st.integers(1, min(3, len(leaves))))
        start = data.draw(st.integers(0, len(leaves) - length))
        cuts = list(_cuts(leaves, start, length))
        if cuts:
            leaves = data.draw(st.sampled_from(cuts))
    document = _document(leaves, originals)
    if document is None or _canonical(document) == _canonical(unsigned):
        return
    try:
        if string_to_sign(document) != text:
            return
    except ValueError:
        return
    outcome = _offer(gateway, document, signature, "genuine callbacks")
    assert isinstance(outcome, WebhookVerificationError)


def test_the_issues_rearrangements_are_refused(gateway: Gateway) -> None:
    # The four the issue names, built by hand from the success and QR seeds.
    success, qr = SEEDS[0], SEEDS[1]
    sig_success = ecommpay_signed(success)["signature"]
    sig_qr = ecommpay_signed(qr)["signature"]
    pending = json.loads(json.dumps(success))
    del pending["payment"]["status"]
    pending["payment"]["method"] += ";payment:status:success"  # swallowed: success -> pending
    del pending["operation"]["status"]
    pending["operation"]["request_id"] += ";operation:status:success"
    no_qr = json.loads(json.dumps(qr))
    item = no_qr["display_data"].pop(1)  # the expiry swallows nothing; the QR is dropped:
    qr_item = no_qr["display_data"].pop(0)
    no_qr["customer"]["id"] += (
        ";"
        + ";".join(f"display_data:0:{k}:{v}" for k, v in sorted(qr_item.items()))
        + ";"
        + ";".join(f"display_data:1:{k}:{v}" for k, v in sorted(item.items()))
    )
    suffix = json.loads(json.dumps(success))
    suffix["payment"]["id"] = {"order-345678": ""}  # payment:id:order-345678: (empty suffix)
    for document, signature in ((pending, sig_success), (no_qr, sig_qr)):
        assert string_to_sign(document) == string_to_sign(success if document is pending else qr)
        assert isinstance(
            _offer(gateway, document, signature, "issue attacks"), WebhookVerificationError
        )
    assert isinstance(
        _offer(gateway, suffix, sig_success, "issue attacks"), WebhookVerificationError
    )


# -- 2. what paymux signs for others never passes for a callback ----------------------------------

SETTINGS = EcommpaySettings(
    project_id=ECOMMPAY_PROJECT_ID,
    secret_key=ECOMMPAY_SECRET,
    callback_url="https://shop.example/ecommpay/callback",
)

# Free text as customers type it, ':' included; ';' is what paymux refuses (tested below).
_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"], blacklist_characters=";"),
    min_size=1,
    max_size=24,
)
_word = st.text(alphabet="abcxyz019._:+-'", min_size=1, max_size=12)
_emails = st.builds(
    lambda local, host: f"{local}@{host}.kr", _word, st.from_regex(r"\A[a-z]{1,8}\Z")
)
_customers = st.builds(
    Customer,
    id=_text,
    ip_address=st.just("192.0.2.10"),
    email=st.none() | _emails,
    first_name=st.none() | _text,
    last_name=st.none() | _text,
    phone=st.none() | st.from_regex(r"\A\+?[0-9]{5,15}\Z"),
)


@st.composite
def _requests(draw: st.DrawFn) -> ChargeRequest:
    return ChargeRequest(
        reference=draw(st.from_regex(r"\A[A-Za-z0-9._:\-]{1,20}\Z")),
        amount=Money(draw(st.integers(1, 10**7)), "KRW"),
        method=draw(st.sampled_from(["kakaopay", "payco"])),
        country="KR",
        customer=draw(_customers),
        description=draw(st.none() | _text),
        return_urls=ReturnUrls(
            success="https://shop.example/ok",
            decline="https://shop.example/no",
            back="https://shop.example/cart",
        ),
    )


def _everything_signed(request: ChargeRequest, reason: str) -> list[dict[str, Any]]:
    from paymux.models import Charge
    from paymux.status import ChargeStatus

    paid = Charge(
        provider="ecommpay",
        id=request.reference,
        reference=request.reference,
        amount=request.amount,
        method=request.method,
        status=ChargeStatus.SUCCEEDED,
    )
    page = payment_page_params(request, SETTINGS)
    page["signature"] = sign(page, SETTINGS.secret_key)
    bodies = [
        gate_requests.sale_body(request, SETTINGS),
        gate_requests.refund_body(
            paid, Money(1, "KRW"), reason=reason, reference="r-1", settings=SETTINGS
        ),
        gate_requests.status_body(request.reference, SETTINGS),
        gate_requests.clarification_body(request.reference, {"customer.phone": reason}, SETTINGS),
    ]
    return [page, *(signed_request(b, SETTINGS.secret_key) for b in bodies)]


def _signature(payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    data = json.loads(json.dumps(payload))
    top = data.pop("signature", None)
    inner = data.get("general", {}).pop("signature", None)
    return data, str(top or inner)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=_requests(), reason=_text)
def test_nothing_paymux_signs_passes_for_a_callback(
    gateway: Gateway, request: ChargeRequest, reason: str
) -> None:
    gateway.provider("ecommpay").check_capability(request)
    gate_requests.check_charge_request(request)
    for payload in _everything_signed(request, reason):
        unsigned, signature = _signature(payload)
        as_sent = _offer(gateway, unsigned, signature, "paymux-signed payloads")
        assert isinstance(as_sent, WebhookVerificationError)
        for document in variants(unsigned, longest=2):
            outcome = _offer(gateway, document, signature, "paymux-signed payloads")
            assert isinstance(outcome, WebhookVerificationError), json.dumps(document)[:300]


@given(
    request=_requests(),
    where=st.sampled_from(["id", "email", "first_name", "last_name", "description"]),
    before=_word,
    after=_word,
)
def test_a_separator_in_any_customer_value_is_refused_before_signing(
    gateway: Gateway, request: ChargeRequest, where: str, before: str, after: str
) -> None:
    value = f"{before};{after}" if where != "email" else f"{before};{after}@example.kr"
    if where == "description":
        request = request.model_copy(update={"description": value})
        field = "description"
    else:
        customer = request.customer.model_copy(update={where: value})
        request = request.model_copy(update={"customer": customer})
        field = f"customer.{where}"
    with pytest.raises(InvalidRequest) as page:
        gateway.provider("ecommpay").payment_page_url(request)  # type: ignore[attr-defined]
    assert page.value.field == field
    with pytest.raises(InvalidRequest) as sale:
        gateway.create_charge(request, provider="ecommpay")  # forbidden client: nothing sent
    assert sale.value.field == field


# -- 3. the issue's Payment Page attack, literally ------------------------------------------------


def _issue_first_name(victim: str) -> str:
    return (
        f"x;payment:id:{victim};payment:status:success;payment:sum:amount:990000;"
        "payment:sum:currency:KRW;payment"
    )


def test_the_payment_page_attack_of_the_issue(gateway: Gateway) -> None:
    customer = Customer(id="cust-1", ip_address="192.0.2.10", first_name=_issue_first_name("v-1"))
    request = ChargeRequest(
        reference="cheap-1",
        amount=Money(100, "KRW"),
        method="kakaopay",
        country="KR",
        customer=customer,
    )
    # Today the link is not even made.
    with pytest.raises(InvalidRequest, match=r"customer\.first_name"):
        gateway.provider("ecommpay").payment_page_url(request)  # type: ignore[attr-defined]
    # A link signed by anything else with this key (an older paymux, another integration) still
    # does not turn into a callback: the attack body is refused.
    params = {
        "project_id": ECOMMPAY_PROJECT_ID,
        "payment_id": "cheap-1",
        "payment_amount": 100,
        "payment_currency": "KRW",
        "customer_id": "cust-1",
        "customer_first_name": _issue_first_name("v-1"),
        "force_payment_method": "kakaopay-wallet",
    }
    signature = sign(params, ECOMMPAY_SECRET)
    rest = ";".join(
        f"{k}:{v}" for k, v in sorted(params.items()) if k not in ("customer_first_name",)
    )
    _, tail = rest.split(";", 1)  # customer_id:cust-1 goes under the ';' key
    attack = {
        "customer_first_name": "x",
        "payment": {
            "id": "v-1",
            "status": "success",
            "sum": {"amount": 990000, "currency": "KRW"},
        },
        "payment;customer_id": f"cust-1;{tail}",
    }
    assert string_to_sign(attack) == string_to_sign(params)
    assert isinstance(_offer(gateway, attack, signature, "issue attacks"), WebhookVerificationError)
    # Without the ';' key (refused above) the project cannot be stated either: still refused.
    attack2 = {**attack, "project_id": ECOMMPAY_PROJECT_ID}
    assert isinstance(
        _offer(gateway, attack2, signature, "issue attacks"), WebhookVerificationError
    )


@pytest.mark.parametrize("key", ["a;b", "a:b", "payment;status", "payment:status", ""])
def test_validly_signed_keys_with_separators_are_refused(gateway: Gateway, key: str) -> None:
    document = json.loads(json.dumps(SEEDS[0]))
    document["payment"][key] = "x"
    signature = sign(document, ECOMMPAY_SECRET)
    outcome = _offer(gateway, document, signature, "issue attacks")
    assert isinstance(outcome, WebhookVerificationError)
