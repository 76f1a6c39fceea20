"""Connection settings of one ECommPay project."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from paymux.provider import ProviderSettings
from paymux.webhook_limits import WebhookLimits

GATE_URL = "https://api.ecommpay.com"
PAYMENT_PAGE_URL = "https://paymentpage.ecommpay.com"


def _absolute(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value.rstrip("/")


class EcommpaySettings(ProviderSettings):
    """One ECommPay project. Test projects live on the same hosts as live ones."""

    project_id: int = Field(gt=0, strict=False)
    secret_key: SecretStr = Field(min_length=1)
    callback_url: str | None = None
    """Sent as ``general.merchant_callback_url``; None: the project's URL (set by support)."""
    base_url: str = GATE_URL
    payment_page_url: str = PAYMENT_PAGE_URL
    base_time_seconds: int = Field(default=10, ge=10)
    """The method's *base time*: poll the status only after it (the Gate asks for at least 10 s)."""
    limit_time_seconds: int | None = Field(default=None, gt=0)
    """The method's *limit time*, if support told you: a payment still open then is declined."""
    confirm_callbacks: bool = True
    """Ask the Gate (the signed ``/v2/payment/status``) before reporting what a final callback
    says. Off, a callback is believed on its signature alone: see the ECommPay page of the docs
    for what that gives up."""
    callback_limits: WebhookLimits = WebhookLimits()
    """Size, depth and leaf caps on a callback body, enforced before its signature is checked."""

    @field_validator("project_id", mode="before")
    @classmethod
    def _no_bool(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("must be the numeric project id")
        return value

    @field_validator("callback_url", "base_url", "payment_page_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _absolute(value)

    @field_validator("callback_url")
    @classmethod
    def _signable(cls, value: str | None) -> str | None:
        # Signed in every request: a ';' would let the signed text be read as more fields.
        if value is not None and ";" in value:
            raise ValueError("must not contain ';' (percent-encode it as %3B)")
        return value
