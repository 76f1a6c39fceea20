"""A webhook endpoint in FastAPI: verify, dedupe, apply, answer what the provider expects."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from webhook_store import PaymentStore

from paymux import AsyncGateway
from paymux.errors import ConfigurationError, WebhookParseError, WebhookVerificationError

log = logging.getLogger("shop.webhooks")


def create_app(gateway: AsyncGateway, store: PaymentStore) -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/{provider}")
    async def webhook(provider: str, request: Request) -> Response:
        body = await request.body()  # the raw bytes: the signature covers exactly these
        try:
            event = await gateway.parse_webhook(provider, body, dict(request.headers))
        except ConfigurationError:
            return Response("unknown provider", status_code=404)
        except WebhookVerificationError:
            log.warning("rejected a %s callback that failed verification", provider)
            return Response("invalid signature", status_code=400)
        except WebhookParseError:
            log.exception("authentic %s callback that paymux cannot read", provider)
            return Response("cannot read callback", status_code=500)  # the provider retries

        await run_in_threadpool(store.apply, event)  # False for a redelivery: still a success
        status, text = gateway.provider(provider).webhook_ack
        return Response(text, status_code=status)

    return app
