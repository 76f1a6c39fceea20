"""Omise errors through the gateway, replayed from cassettes/omise/test_omise_errors/."""

from __future__ import annotations

from typing import Any

import pytest

from paymux import ChargeStatus, Gateway
from paymux.errors import AuthenticationError, NotFound, ProviderError, RateLimited


@pytest.mark.vcr
def test_authentication_failure(gateway: Gateway) -> None:
    with pytest.raises(AuthenticationError) as caught:
        gateway.retrieve_charge("omise", "chrg_test_paymuxpaid")
    assert (caught.value.code, caught.value.http_status) == ("authentication_failure", 401)
    assert "skey_" not in str(caught.value)


@pytest.mark.vcr
def test_not_found(gateway: Gateway) -> None:
    with pytest.raises(NotFound) as caught:
        gateway.retrieve_charge("omise", "chrg_test_missing")
    assert (caught.value.code, caught.value.http_status) == ("not_found", 404)
    assert caught.value.conclusive  # by id: Omise has no such charge


@pytest.mark.vcr
def test_invalid_charge_on_create(gateway: Gateway, kit: Any) -> None:
    with pytest.raises(ProviderError) as caught:
        gateway.create_charge(kit.request())
    assert (caught.value.code, caught.value.http_status) == ("invalid_charge", 400)
    assert caught.value.nothing_done  # a validation refusal: no charge was made


@pytest.mark.vcr
def test_rate_limited_read_is_retried(gateway: Gateway, vcr: Any) -> None:
    charge = gateway.retrieve_charge("omise", "chrg_test_paymuxpaid")
    assert charge.status is ChargeStatus.SUCCEEDED
    assert vcr.play_count == 2


@pytest.mark.vcr
def test_rate_limited_charge_is_not_retried(gateway: Gateway, kit: Any, vcr: Any) -> None:
    # Omise has no idempotency key: a second POST could take the money twice.
    with pytest.raises(RateLimited) as caught:
        gateway.create_charge(kit.request())
    assert caught.value.nothing_done
    assert vcr.play_count == 3  # the search, the recent charge list, then one POST


@pytest.mark.vcr
def test_proxy_error_page(gateway: Gateway) -> None:
    with pytest.raises(ProviderError) as caught:
        gateway.retrieve_charge("omise", "chrg_test_paymuxpaid")
    assert caught.value.http_status == 502
    assert not caught.value.nothing_done  # a proxy's page says nothing about what Omise did
