"""Settings of the Omise provider, validated before any request is built."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from paymux.provider import ProviderSettings

DEFAULT_BASE_URL = "https://api.omise.co"
# KakaoPay needs at least 2017-11-02 (seed 004); older versions lack `source` charges.
ApiVersion = Literal["2019-05-29", "2017-11-02"]
DEFAULT_API_VERSION: ApiVersion = "2019-05-29"
AccountCountry = Literal["SG", "TH"]
"""The countries Omise opens accounts in that paymux supports (an account is one country)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _key_mode(value: str, prefix: str, what: str) -> str:
    if not value.startswith(prefix) or len(value) <= len(prefix):
        # The value itself is never echoed: it may be a live secret pasted in the wrong field.
        raise ValueError(
            f"an Omise {what} starts with {prefix!r} (check the dashboard's Keys page)"
        )
    return "test" if value.startswith(prefix + "test_") else "live"


class OmiseSettings(ProviderSettings):
    """``Gateway(providers={"omise": {...}})`` takes these keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    secret_key: SecretStr
    """``skey_test_...`` or ``skey_...``: charges, refunds, searches, webhook re-fetches."""
    country: AccountCountry | None = None
    """The account's country, ``SG`` or ``TH`` (``GET /capability`` reports it; the dashboard
    shows it). An Omise account sells in one country and its currency only. Left out, the
    provider offers both markets, each in its own currency, and Omise refuses the charges of the
    market the account is not in: state it whenever several Omise accounts are configured, or
    the first of them takes every charge of both markets."""
    public_key: str | None = None
    """``pkey_test_...`` or ``pkey_...``; only checked against the secret key's mode (the browser
    creates sources with it through Omise.js). Not a secret."""
    webhook_secret: SecretStr | None = None
    """The base64 webhook secret from Dashboard -> Webhooks (not the API secret key)."""
    api_version: ApiVersion = DEFAULT_API_VERSION
    base_url: str = DEFAULT_BASE_URL
    refetch_webhooks: bool = True
    """Re-read the charge named by a webhook and return the API's state, as Opn recommends."""
    webhook_tolerance: timedelta = timedelta(minutes=5)
    """How far ``Omise-Signature-Timestamp`` may be from now before a webhook counts as replayed."""
    dedupe_by_reference: bool = True
    """Before creating a charge, look for one already made with the same merchant reference
    (Omise has no idempotency key, so this is the only guard against a second charge)."""
    search_lag: timedelta = timedelta(minutes=5)
    """How far Omise's search may lag behind a new charge, plus any clock difference with Omise.
    A look-up by reference reads every page of the search and then the charge list (which does
    not lag) for charges created within this window, so a miss is certain."""
    clock: Callable[[], datetime] = Field(default=_utc_now, exclude=True, repr=False)
    """Current time (timezone-aware); injectable so deadline and replay checks are testable."""

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr) -> SecretStr:
        _key_mode(value.get_secret_value(), "skey_", "secret key")
        return value

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        if value is not None:
            _key_mode(value, "pkey_", "public key")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                key = base64.b64decode(value.get_secret_value(), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(
                    "must be the base64 webhook secret shown in the dashboard"
                ) from None
            if not key:
                raise ValueError("is empty")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"{value!r} is not an absolute URL such as {DEFAULT_BASE_URL!r}")
        return value.rstrip("/")

    @field_validator("search_lag")
    @classmethod
    def _search_lag(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("webhook_tolerance")
    @classmethod
    def _tolerance(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OmiseSettings:
        if (
            self.public_key is not None
            and _key_mode(self.public_key, "pkey_", "public key") != self.mode
        ):
            raise ValueError("public_key and secret_key mix test and live mode")
        if self.webhook_secret is None and not self.refetch_webhooks:
            raise ValueError(
                "without webhook_secret, refetch_webhooks must stay on: nothing else would prove"
                " that a webhook comes from Omise"
            )
        return self

    @property
    def mode(self) -> Literal["test", "live"]:
        mode = _key_mode(self.secret_key.get_secret_value(), "skey_", "secret key")
        return "test" if mode == "test" else "live"

    @property
    def webhook_key(self) -> bytes | None:
        if self.webhook_secret is None:
            return None
        return base64.b64decode(self.webhook_secret.get_secret_value())

    def now(self) -> datetime:
        current = self.clock()
        return current if current.tzinfo is not None else current.replace(tzinfo=UTC)
