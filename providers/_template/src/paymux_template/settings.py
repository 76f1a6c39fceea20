"""What ``Gateway(providers={"template": {...}})`` accepts."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr

from paymux.provider import ProviderSettings
from paymux.webhook_limits import WebhookLimits


class TemplateSettings(ProviderSettings):
    api_key: SecretStr = Field(min_length=1)
    webhook_secret: SecretStr = Field(min_length=1)
    base_url: str = "https://api.template.example"
    """The emulator points the plugin at itself through this."""
    webhook_tolerance: timedelta = timedelta(minutes=5)
    """How far a webhook's signing time may be from now: a replayed old delivery is refused."""
    webhook_limits: WebhookLimits = WebhookLimits()
