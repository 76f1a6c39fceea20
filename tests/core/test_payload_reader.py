"""paymux.payload: the one reader plugins use for provider JSON, and its one error type."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux import Money
from paymux.errors import PaymuxError, ProviderError, WebhookParseError
from paymux.payload import INVALID_RESPONSE, Payload, PayloadError
from paymux.provider import Flow, no_io
from paymux.redaction import Redactor
from paymux.runner import NO_RETRY, run

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
READERS = [
    "text",
    "optional_text",
    "identifier",
    "optional_identifier",
    "integer",
    "optional_integer",
    "optional_boolean",
    "object",
    "optional_object",
    "list",
    "optional_list",
    "objects",
]


@given(value=json_values, reader=st.sampled_from(READERS))
def test_any_json_value_is_read_or_refused_with_a_payload_error_naming_the_path(
    value: Any, reader: str
) -> None:
    outer = Payload.of({"charge": {"field": value}}).object("charge")
    error: PayloadError | None = None
    try:
        getattr(outer, reader)("field")
    except PayloadError as exc:
        error = exc
    if error is not None:
        # A list item's path goes one step further: 'charge.field[1]'.
        assert error.path == "charge.field" or error.path.startswith("charge.field[")
        assert f"'{error.path}'" in str(error)


@given(value=json_values)
def test_text_is_exactly_a_non_empty_string(value: Any) -> None:
    payload = Payload({"k": value})
    if isinstance(value, str) and value:
        assert payload.text("k") == value
    else:
        with pytest.raises(PayloadError):
            payload.text("k")


@given(value=json_values)
def test_integer_is_never_a_bool_a_float_or_negative(value: Any) -> None:
    payload = Payload({"k": value})
    if type(value) is int and value >= 0:
        assert payload.integer("k") == value
    else:
        with pytest.raises(PayloadError):
            payload.integer("k")


@given(value=json_values)
def test_absent_and_null_read_as_none_for_every_optional_reader(value: Any) -> None:
    payload = Payload({"null": None})
    for reader in READERS:
        if reader.startswith("optional_"):
            assert getattr(payload, reader)("missing") is None
            assert getattr(payload, reader)("null") is None


def test_ids_may_be_numbers_or_strings() -> None:
    payload = Payload({"a": 42, "b": "p-1", "c": True})
    assert payload.identifier("a") == "42"
    assert payload.identifier("b") == "p-1"
    with pytest.raises(PayloadError, match="'c' is not an id"):
        payload.identifier("c")


def test_nested_paths_and_list_items_are_named() -> None:
    payload = Payload.of({"refunds": {"data": [{"amount": 1}, "oops"]}})
    with pytest.raises(PayloadError) as info:
        payload.object("refunds").objects("data")
    assert info.value.path == "refunds.data[1]"


def test_money_reads_minor_units_and_refuses_what_money_refuses() -> None:
    assert Payload({"amount": 1500, "currency": "sgd"}).money() == Money(1500, "SGD")
    with pytest.raises(PayloadError, match="unusable amount"):
        Payload({"amount": 1, "currency": "ZZZ"}).money()
    with pytest.raises(PayloadError, match="'amount' is not an integer"):
        Payload({"amount": 1.5, "currency": "SGD"}).money()


def test_a_non_object_document_is_refused() -> None:
    for value in ([], "x", None, 3):
        with pytest.raises(PayloadError, match="not a JSON object"):
            Payload.of(value, "the answer")


def test_the_repr_names_the_place_not_the_values() -> None:
    secret = "4111111111111111"
    assert secret not in repr(Payload({"card": secret}))


# -- the runner turns it into the public error, in one place -----------------------------------


def _reads(body: dict[str, Any]) -> Flow[int]:
    response = yield httpx.Request("GET", "http://127.0.0.1:9/x")
    return Payload.of(response.json()).object("charge").integer("amount")


def _client(body: dict[str, Any]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body)))


def test_an_unreadable_api_answer_becomes_a_provider_error_with_a_clear_code() -> None:
    body = {"charge": {"amount": "12"}}
    with _client(body) as client, pytest.raises(ProviderError) as info:
        run(_reads(body), client, provider="p", redactor=Redactor([]), policy=NO_RETRY)
    assert (info.value.code, info.value.http_status) == (INVALID_RESPONSE, 200)
    assert "'charge.amount' is not an integer" in str(info.value)
    assert not isinstance(info.value.__cause__, KeyError | ValueError | TypeError)


def test_an_unreadable_webhook_becomes_a_webhook_parse_error() -> None:
    flow = no_io(lambda: Payload.of(json.loads('{"data": 1}')).object("data"))
    with pytest.raises(WebhookParseError, match="'data' is not an object"):
        run(
            flow,
            _client({}),
            provider="p",
            redactor=Redactor([]),
            policy=NO_RETRY,
            payload_error=WebhookParseError,
        )


def test_secrets_in_a_payload_message_are_redacted() -> None:
    flow = no_io(lambda: Payload({"sk_live_abcdef": 1}).text("sk_live_abcdef"))
    with pytest.raises(PaymuxError) as info:
        run(flow, _client({}), provider="p", redactor=Redactor(["sk_live_abcdef"]), policy=NO_RETRY)
    assert "sk_live_abcdef" not in str(info.value)


async def test_the_async_runner_converts_the_same_way() -> None:
    from paymux.runner import arun

    body = {"charge": {"amount": -1}}
    transport = httpx.MockTransport(lambda _: httpx.Response(502, json=body))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(ProviderError) as info:
            await arun(_reads(body), client, provider="p", redactor=Redactor([]), policy=NO_RETRY)
    assert (info.value.code, info.value.http_status) == (INVALID_RESPONSE, 502)


def test_a_bare_test_driver_sees_what_gateway_users_see() -> None:
    from paymux.testing import run_flow

    with pytest.raises(ProviderError) as info:
        run_flow(_reads({}), lambda _: httpx.Response(200, json={"charge": []}), provider="p")
    assert (info.value.code, info.value.http_status, info.value.provider) == (
        INVALID_RESPONSE,
        200,
        "p",
    )
