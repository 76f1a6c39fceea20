"""An AsyncGateway driven from synchronous code, for the sandbox's scripted (sync) customer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from paymux import AsyncGateway

T = TypeVar("T")


class AsyncGatewayOnALoop:
    """An AsyncGateway on an event loop of its own, in a thread: the Shopper calls it like a
    Gateway, so the same checkout script exercises the async code path."""

    def __init__(self, settings: dict[str, dict[str, Any]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.gw = self._wait(self._make(settings))

    async def _make(self, settings: dict[str, dict[str, Any]]) -> AsyncGateway:
        # Built on the loop that will drive it (its HTTP client belongs to that loop).
        return AsyncGateway(providers=settings)

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def route(self, request: Any) -> Any:
        return self.gw.route(request)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.gw, name)
        return lambda *args, **kwargs: self._wait(method(*args, **kwargs))

    def close(self) -> None:
        self._wait(self.gw.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()
