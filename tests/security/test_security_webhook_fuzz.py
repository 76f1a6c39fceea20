"""Fuzzing of every webhook parser and signature verifier (issue 7, point 2).

A checkout's webhook endpoint is the one part of paymux that anybody on the internet can feed.
Whatever arrives, only a ``PaymuxError`` may come out (the endpoint catches that and answers 400);
a forged or altered callback must never verify; and nothing unverified may make paymux send a
request on the attacker's behalf.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from security_support import (
    ECOMMPAY_SECRET,
    NOW,
    NOW_STAMP,
    OMISE_WEBHOOK_KEY,
    byte_mutations,
    dumps,
    ecommpay_seed_payloads,
    ecommpay_settings,
    ecommpay_signed,
    forbidden_client,
    get,
    json_objects,
    json_scalars,
    json_values,
    leaf_paths,
    node_paths,
    omise_api,
    omise_charge,
    omise_event,
    omise_headers,
    omise_seed_events,
    omise_settings,
    only_paymux_errors,
    removed,
    replaced,
)

from paymux import Gateway, WebhookEvent
from paymux.errors import PaymuxError, WebhookVerificationError
from paymux.webhook_limits import WebhookLimits, WebhookTooLarge
from paymux_ecommpay import sign as ecommpay_sign
from paymux_ecommpay import string_to_sign
from paymux_ecommpay import verify as ecommpay_verify
from paymux_ecommpay.webhooks_shape import CallbackShapeError
from paymux_omise.webhooks import verify_signature

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOLERANCE = timedelta(minutes=5)

ECOMMPAY_SEEDS = ecommpay_seed_payloads()
OMISE_SEEDS = omise_seed_events()

headers_strategy = st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=4) | (
    st.tuples(st.text(max_size=80), st.text(max_size=14)).map(
        lambda pair: {"Omise-Signature": pair[0], "Omise-Signature-Timestamp": pair[1]}
    )
)
# Request bodies as frameworks hand them over: bytes, or text that may hold lone surrogates.
text_bodies = st.text(max_size=300) | st.text(
    alphabet=st.characters(categories=["Cs", "Lu", "Nd"]), max_size=20
)


# The gateways fixture's keys: every way of configuring webhook verification.
KINDS = [
    "ecommpay",
    "ecommpay-confirming",
    "omise-signed",
    "omise-signed-refetch",
    "omise-refetch-only",
]


@pytest.fixture(scope="module")
def gateways() -> Iterator[dict[str, Gateway]]:
    """Every way of configuring webhook verification, each with the HTTP it is allowed."""
    built = {
        # The parser alone: confirmation through the Gate (default) is tested in the ECommPay
        # suite; here a status request would be a bug the forbidden client reports.
        "ecommpay": Gateway(
            providers={"ecommpay": ecommpay_settings(confirm_callbacks=False)},
            http_client=forbidden_client(),
        ),
        # Confirming: an unverified body must not cause the status request either.
        "ecommpay-confirming": Gateway(
            providers={"ecommpay": ecommpay_settings()}, http_client=forbidden_client()
        ),
        # Signature only: the pure parser; a request would be a bug.
        "omise-signed": Gateway(
            providers={"omise": omise_settings(refetch_webhooks=False)},
            http_client=forbidden_client(),
        ),
        # Signature, then re-fetch: an unverified body must not cause the re-fetch.
        "omise-signed-refetch": Gateway(
            providers={"omise": omise_settings()}, http_client=forbidden_client()
        ),
        # No webhook secret: proof is the re-fetch, which finds nothing the fuzzer names.
        "omise-refetch-only": Gateway(
            providers={"omise": omise_settings(webhook_secret=None)},
            http_client=httpx.Client(transport=omise_api(lambda _id: None)),
        ),
    }
    yield built
    for gateway in built.values():
        gateway.close()


def _provider(kind: str) -> str:
    return kind.split("-")[0]


def _event_facts(event: WebhookEvent) -> dict[str, Any]:
    """What a checkout acts on: everything but the raw payload. Form fields are compared as a
    mapping: the browser posts them by name, and ECommPay's signature does not fix their order."""
    facts = event.model_dump(exclude={"raw": True, "charge": {"raw"}, "refund": {"raw"}})
    action = (facts.get("charge") or {}).get("next_action") or {}
    if "form" in action:
        action["form"] = sorted(action["form"])
    return facts


# -- arbitrary input: never verifies, never anything but a PaymuxError ----------------------------


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(body=st.binary(max_size=2_000) | text_bodies, headers=headers_strategy)
def test_arbitrary_bodies_and_headers_are_refused_as_unverified(
    gateways: dict[str, Gateway], kind: str, body: bytes | str, headers: dict[str, str]
) -> None:
    outcome = only_paymux_errors(
        lambda: gateways[kind].parse_webhook(_provider(kind), body, headers)
    )
    assert isinstance(outcome, PaymuxError), "random bytes were accepted as a provider callback"
    # A text body paymux cannot even encode is the caller's mistake, named as such; all else is
    # an unproven callback.
    assert isinstance(outcome, WebhookVerificationError) or getattr(outcome, "field", "") == "body"


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(document=json_values, signature=st.none() | st.text(max_size=90))
def test_json_of_any_shape_without_a_valid_signature_is_unverified(
    gateways: dict[str, Gateway], kind: str, document: Any, signature: str | None
) -> None:
    if signature is not None and isinstance(document, dict):
        document = {**document, "signature": signature}
    body = dumps(document)
    headers = {"Omise-Signature": signature or "", "Omise-Signature-Timestamp": NOW_STAMP}
    outcome = only_paymux_errors(
        lambda: gateways[kind].parse_webhook(_provider(kind), body, headers)
    )
    assert isinstance(outcome, WebhookVerificationError)


# -- validly signed but hostile content: the translators ------------------------------------------


@FUZZ
@given(document=json_objects, where=st.sampled_from(["top", "general"]))
def test_ecommpay_signed_callback_of_any_shape_only_raises_paymux_errors(
    gateways: dict[str, Gateway], document: dict[str, Any], where: str
) -> None:
    try:
        body = dumps(ecommpay_signed(document, where=where))
    except ValueError:
        assume(False)  # not signable (e.g. a key that collides with "general")
    only_paymux_errors(lambda: gateways["ecommpay"].parse_webhook("ecommpay", body, {}))


@FUZZ
@given(
    seed=st.sampled_from(ECOMMPAY_SEEDS),
    data=st.data(),
    where=st.sampled_from(["top", "general"]),
)
def test_ecommpay_signed_seed_with_any_part_replaced_only_raises_paymux_errors(
    gateways: dict[str, Gateway], seed: dict[str, Any], data: st.DataObject, where: str
) -> None:
    # Structure-aware: real callbacks with one subtree swapped for arbitrary JSON reach deep into
    # the translator (amounts, QR and redirect data, refund arithmetic), then get signed.
    path = data.draw(st.sampled_from(list(node_paths(seed))))
    document = replaced(seed, path, data.draw(json_values))
    body = dumps(ecommpay_signed(document, where=where))
    outcome = only_paymux_errors(lambda: gateways["ecommpay"].parse_webhook("ecommpay", body, {}))
    if isinstance(outcome, WebhookVerificationError):
        # Validly signed: refused only for its project or for a shape no genuine callback has
        # (a known field swapped for the wrong JSON type), never for its signature.
        assert path == ("project_id",) or isinstance(outcome, CallbackShapeError), outcome


@FUZZ
@given(
    event_id=st.text(max_size=20),
    key=st.sampled_from(["charge.complete", "refund.create", "customer.create"]) | st.text(),
    data=json_values,
    envelope=json_objects,
)
def test_omise_signed_event_of_any_shape_only_raises_paymux_errors(
    gateways: dict[str, Gateway], event_id: str, key: str, data: Any, envelope: dict[str, Any]
) -> None:
    document = {**envelope, "object": "event", "id": event_id, "key": key, "data": data}
    for body in (dumps(document), dumps(envelope)):
        outcome = only_paymux_errors(
            lambda body=body: gateways["omise-signed"].parse_webhook(
                "omise", body, omise_headers(body)
            )
        )
        assert not isinstance(outcome, WebhookVerificationError)


@FUZZ
@given(seed=st.sampled_from(OMISE_SEEDS), data=st.data())
def test_omise_signed_seed_with_any_part_replaced_only_raises_paymux_errors(
    gateways: dict[str, Gateway], seed: dict[str, Any], data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(list(node_paths(seed))))
    document = replaced(seed, path, data.draw(json_values))
    body = dumps(document)
    outcome = only_paymux_errors(
        lambda: gateways["omise-signed"].parse_webhook("omise", body, omise_headers(body))
    )
    assert not isinstance(outcome, WebhookVerificationError)


@FUZZ
@given(data=st.data(), signed=st.booleans())
def test_omise_refetched_charge_of_any_shape_only_raises_paymux_errors(
    data: st.DataObject, signed: bool
) -> None:
    # The re-fetch answer comes from the network: as hostile, in principle, as the webhook.
    charge = omise_charge()
    path = data.draw(st.sampled_from(list(node_paths(charge))))
    answer = data.draw(st.just(replaced(charge, path, data.draw(json_values))) | json_values)
    body = dumps(omise_event(omise_charge()))
    settings_ = omise_settings() if signed else omise_settings(webhook_secret=None)
    client = httpx.Client(transport=omise_api(lambda _id: answer))
    with Gateway(providers={"omise": settings_}, http_client=client) as gateway:
        only_paymux_errors(lambda: gateway.parse_webhook("omise", body, omise_headers(body)))
    client.close()


# -- mutated validly signed callbacks never verify ------------------------------------------------


def test_unmutated_seeds_verify(gateways: dict[str, Gateway]) -> None:
    """The mutation properties below would hold vacuously if the seeds did not verify at all."""
    for seed in ECOMMPAY_SEEDS:
        signed = ecommpay_signed(seed)
        assert ecommpay_verify(signed, ECOMMPAY_SECRET)
        event = gateways["ecommpay"].parse_webhook("ecommpay", dumps(signed), {})
        assert event.charge or event.refund
    for event in OMISE_SEEDS:
        body = dumps(event)
        verify_signature(
            body, omise_headers(body), key=OMISE_WEBHOOK_KEY, now=NOW, tolerance=TOLERANCE
        )
        assert gateways["omise-signed"].parse_webhook("omise", body, omise_headers(body)).id


@st.composite
def document_mutations(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with one value changed, one node removed or one key added, anywhere."""
    kind = draw(st.sampled_from(("leaf", "node", "remove", "add")))
    if kind == "leaf":
        path = draw(st.sampled_from(list(leaf_paths(document))))
        return replaced(document, path, draw(json_scalars))  # type: ignore[no-any-return]
    if kind == "node":
        path = draw(st.sampled_from(list(node_paths(document))))
        return replaced(document, path, draw(json_values))  # type: ignore[no-any-return]
    if kind == "remove":
        path = draw(st.sampled_from(list(node_paths(document))))
        return removed(document, path)  # type: ignore[no-any-return]
    parents = [()] + [p for p in node_paths(document) if isinstance(get(document, p), dict)]
    parent = draw(st.sampled_from(parents))
    key = draw(st.text(max_size=12))
    return replaced(document, (*parent, key), draw(json_values))  # type: ignore[no-any-return]


@FUZZ
@given(
    seed=st.sampled_from(ECOMMPAY_SEEDS), where=st.sampled_from(["top", "general"]), data=st.data()
)
def test_ecommpay_callback_with_a_changed_value_never_verifies(
    gateways: dict[str, Gateway], seed: dict[str, Any], where: str, data: st.DataObject
) -> None:
    signed = ecommpay_signed(seed, where=where)
    original = gateways["ecommpay"].parse_webhook("ecommpay", dumps(signed), {})
    mutated = data.draw(document_mutations(signed))
    outcome = only_paymux_errors(
        lambda: gateways["ecommpay"].parse_webhook("ecommpay", dumps(mutated), {})
    )
    if string_to_sign(mutated) != string_to_sign(signed):
        assert isinstance(outcome, WebhookVerificationError)
        assert not ecommpay_verify(mutated, ECOMMPAY_SECRET)
    elif isinstance(outcome, WebhookEvent):
        # ECommPay signs the flattened text of the leaves, not the JSON: a change the algorithm
        # cannot see (an empty container, 1 vs "1") verifies, but must not change what paymux
        # reports.
        assert _event_facts(outcome) == _event_facts(original)


@FUZZ
@given(seed=st.sampled_from(ECOMMPAY_SEEDS), data=st.data())
def test_ecommpay_callback_with_flipped_inserted_or_deleted_bytes_never_verifies(
    gateways: dict[str, Gateway], seed: dict[str, Any], data: st.DataObject
) -> None:
    signed = ecommpay_signed(seed)
    body = dumps(signed)
    mutated = data.draw(byte_mutations(body))
    outcome = only_paymux_errors(
        lambda: gateways["ecommpay"].parse_webhook("ecommpay", mutated, {})
    )
    if isinstance(outcome, WebhookEvent):
        # Only a change JSON itself ignores (whitespace, an escape spelled differently).
        assert json.loads(mutated) == signed
    else:
        assert isinstance(outcome, WebhookVerificationError)


@FUZZ
@given(seed=st.sampled_from(ECOMMPAY_SEEDS), order=st.randoms(use_true_random=False))
def test_ecommpay_signature_survives_key_reordering(
    gateways: dict[str, Gateway], seed: dict[str, Any], order: Any
) -> None:
    """The one rearrangement the algorithm declares irrelevant (it sorts the paths)."""
    signed = ecommpay_signed(seed)

    def shuffled(node: Any) -> Any:
        if isinstance(node, dict):
            items = list(node.items())
            order.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(node, list):
            return [shuffled(v) for v in node]
        return node

    body = dumps(shuffled(signed))
    event = gateways["ecommpay"].parse_webhook("ecommpay", body, {})
    assert _event_facts(event) == _event_facts(
        gateways["ecommpay"].parse_webhook("ecommpay", dumps(signed), {})
    )


@st.composite
def omise_header_mutations(draw: st.DrawFn, headers: dict[str, str]) -> dict[str, str]:
    name = draw(st.sampled_from(["Omise-Signature", "Omise-Signature-Timestamp"]))
    value = headers[name]
    at = draw(st.integers(0, len(value) - 1))
    alphabet = "0123456789abcdef" if name == "Omise-Signature" else "0123456789"
    replacement = draw(st.sampled_from([c for c in alphabet if c != value[at]]))
    return {**headers, name: value[:at] + replacement + value[at + 1 :]}


@FUZZ
@given(seed=st.sampled_from(OMISE_SEEDS), data=st.data())
def test_omise_webhook_with_any_change_never_verifies(
    gateways: dict[str, Gateway], seed: dict[str, Any], data: st.DataObject
) -> None:
    body = dumps(seed)
    headers = omise_headers(body)
    # Omise signs the raw bytes: every change counts, key order included.
    how = data.draw(st.sampled_from(("bytes", "document", "reorder", "headers")))
    if how == "bytes":
        body = data.draw(byte_mutations(body))
    elif how == "document":
        body = dumps(data.draw(document_mutations(seed)))
    elif how == "reorder":
        body = json.dumps(seed, sort_keys=True).encode()
    else:
        headers = data.draw(omise_header_mutations(headers))
    assume(body != dumps(seed) or headers != omise_headers(dumps(seed)))
    with pytest.raises(WebhookVerificationError):
        verify_signature(body, headers, key=OMISE_WEBHOOK_KEY, now=NOW, tolerance=TOLERANCE)
    for kind in ("omise-signed", "omise-signed-refetch"):
        with pytest.raises(WebhookVerificationError):
            gateways[kind].parse_webhook("omise", body, headers)


# -- the verifiers, called directly ---------------------------------------------------------------


@FUZZ
@given(document=json_objects, signature=st.text(max_size=100))
def test_ecommpay_verify_answers_false_for_any_json_object(
    document: dict[str, Any], signature: str
) -> None:
    for where in ("top", "general"):
        claimed = dict(document)
        if where == "top":
            claimed["signature"] = signature
        else:
            claimed["general"] = {"signature": signature}
        try:
            valid = ecommpay_sign(claimed, ECOMMPAY_SECRET)
        except ValueError:
            valid = None
        assert ecommpay_verify(claimed, ECOMMPAY_SECRET) is (signature == valid)


@FUZZ
@given(
    body=st.binary(max_size=500),
    stamp=st.from_regex(r"\A[0-9]{1,12}\Z") | st.text(max_size=14),
    signature=st.text(max_size=200) | st.none(),
)
def test_omise_verify_signature_raises_only_verification_errors(
    body: bytes, stamp: str, signature: str | None
) -> None:
    # With the right signature over any timestamp, only the replay window may refuse it.
    try:
        headers = omise_headers(body, stamp=stamp)
    except UnicodeEncodeError:
        headers = {"Omise-Signature": "00", "Omise-Signature-Timestamp": stamp}
    if signature is not None:
        headers["Omise-Signature"] = signature
    outcome = only_paymux_errors(
        lambda: verify_signature(body, headers, key=OMISE_WEBHOOK_KEY, now=NOW, tolerance=TOLERANCE)
    )
    if outcome is not None:
        assert isinstance(outcome, WebhookVerificationError)


def test_omise_signed_timestamp_beyond_the_calendar_is_a_verification_error(
    gateways: dict[str, Gateway],
) -> None:
    # Found by the fuzzer: a validly signed far-future stamp overflowed datetime (ValueError).
    body = dumps(OMISE_SEEDS[0])
    headers = omise_headers(body, stamp="999999999999")
    with pytest.raises(WebhookVerificationError, match="out of range"):
        verify_signature(body, headers, key=OMISE_WEBHOOK_KEY, now=NOW, tolerance=TOLERANCE)
    with pytest.raises(WebhookVerificationError):
        gateways["omise-signed"].parse_webhook("omise", body, headers)


# -- huge and deeply nested bodies ----------------------------------------------------------------

MEGABYTES = 5 * 1024 * 1024


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\x00\xff" * (MEGABYTES // 2), id="5MB-binary"),
        pytest.param(b"[" * MEGABYTES + b"]" * MEGABYTES, id="10MB-nested-arrays"),
        pytest.param(_nested(200_000), id="200k-nested-objects"),
        pytest.param(
            dumps({"signature": "x", "payment": {"description": "é" * MEGABYTES}}),
            id="5MB-string",
        ),
        pytest.param(b"1" * MEGABYTES, id="5M-digit-number"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_huge_unsigned_bodies_are_refused_as_unverified(
    gateways: dict[str, Gateway], kind: str, body: bytes
) -> None:
    headers = {"Omise-Signature": "0" * 64, "Omise-Signature-Timestamp": NOW_STAMP}
    with pytest.raises(WebhookVerificationError):
        gateways[kind].parse_webhook(_provider(kind), body, headers)


def test_huge_validly_signed_ecommpay_callback_is_refused_by_the_size_cap(
    gateways: dict[str, Gateway],
) -> None:
    # The cap comes before the signature: a body over it is never flattened or hashed.
    seed = ECOMMPAY_SEEDS[0]
    document = replaced(seed, ("payment", "description"), "결제" * (MEGABYTES // 2))
    with pytest.raises(WebhookTooLarge):
        gateways["ecommpay"].parse_webhook("ecommpay", dumps(ecommpay_signed(document)), {})


def test_a_signed_callback_just_under_the_caps_is_read() -> None:
    limits = WebhookLimits()
    document = replaced(ECOMMPAY_SEEDS[0], ("payment", "description"), "")
    room = limits.max_bytes - len(dumps(ecommpay_signed(document))) - 16
    document = replaced(document, ("payment", "description"), "x" * room)
    body = dumps(ecommpay_signed(document))
    assert limits.max_bytes - 32 < len(body) <= limits.max_bytes
    settings_ = ecommpay_settings(confirm_callbacks=False)
    with Gateway(providers={"ecommpay": settings_}, http_client=forbidden_client()) as gateway:
        event = gateway.parse_webhook("ecommpay", body, {})
    assert event.charge is not None and event.charge.status == "succeeded"


@pytest.mark.parametrize(
    ("limits", "body"),
    [
        ({"max_bytes": 1_000}, dumps({"pad": "x" * 1_000})),
        ({"max_depth": 5}, _nested(6)),
        ({"max_leaves": 100}, dumps({"items": list(range(101))})),
    ],
)
@pytest.mark.parametrize("provider", ["ecommpay", "omise"])
def test_the_caps_hold_for_both_plugins(limits: dict[str, int], body: bytes, provider: str) -> None:
    from paymux.webhook_limits import load_json
    from paymux_omise.webhooks import parse_envelope

    with pytest.raises(WebhookTooLarge):
        load_json(body, WebhookLimits(**limits))
    if provider == "omise":
        with pytest.raises(WebhookTooLarge):
            parse_envelope(body, WebhookLimits(**limits))
        return
    settings_ = ecommpay_settings(callback_limits=limits)
    gateway = Gateway(providers={"ecommpay": settings_}, http_client=forbidden_client())
    with gateway, pytest.raises(WebhookTooLarge):
        gateway.parse_webhook("ecommpay", body, {})


def test_deeply_nested_ecommpay_callback_is_refused_without_exhausting_the_stack(
    gateways: dict[str, Gateway],
) -> None:
    # Deeper than any real payload yet readable by json: the verifier declines to flatten it.
    deep: Any = "x"
    for _ in range(400):
        deep = {"a": deep}
    with pytest.raises(ValueError, match="deeper"):
        ecommpay_sign({"extra": deep}, ECOMMPAY_SECRET)
    document = {**ECOMMPAY_SEEDS[0], "extra": deep, "signature": "forged"}
    assert not ecommpay_verify(document, ECOMMPAY_SECRET)
    with pytest.raises(WebhookVerificationError):
        gateways["ecommpay"].parse_webhook("ecommpay", dumps(document), {})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_nested(200_000), id="200k-nested-objects"),
        pytest.param(
            dumps(omise_event({"object": "customer", "id": "c", "pad": "é" * MEGABYTES})),
            id="5MB-event",
        ),
        pytest.param(dumps(omise_event(json.loads(_nested(500)))), id="500-nested-data"),
    ],
)
def test_huge_validly_signed_omise_bodies_only_raise_paymux_errors(
    gateways: dict[str, Gateway], body: bytes
) -> None:
    for kind in ("omise-signed", "omise-signed-refetch"):
        only_paymux_errors(
            lambda kind=kind: gateways[kind].parse_webhook("omise", body, omise_headers(body))
        )
