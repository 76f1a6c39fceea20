"""A webhook endpoint in Flask: verify, dedupe, apply, answer what the provider expects."""

from __future__ import annotations

from flask import Flask, request
from webhook_store import PaymentStore

from paymux import Gateway
from paymux.errors import ConfigurationError, WebhookParseError, WebhookVerificationError


def create_app(gateway: Gateway, store: PaymentStore) -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/<provider>")
    def webhook(provider: str) -> tuple[str, int]:
        body = request.get_data()  # the raw bytes; read them before touching request.form
        try:
            event = gateway.parse_webhook(provider, body, dict(request.headers))
        except ConfigurationError:
            return "unknown provider", 404
        except WebhookVerificationError:
            app.logger.warning("rejected a %s callback that failed verification", provider)
            return "invalid signature", 400
        except WebhookParseError:
            app.logger.exception("authentic %s callback that paymux cannot read", provider)
            return "cannot read callback", 500  # the provider retries

        store.apply(event)  # False for a redelivery: still a success
        status, text = gateway.provider(provider).webhook_ack
        return text, status

    return app
