"""The steps a ledger operation yields: a database transaction, a gateway call, a pause.

Operations are generators of these, written once; ``Ledger`` and ``AsyncLedger`` run them. An
operation waits for a step with ``result = yield from step``: the driver runs the step, which
keeps its own result, so every result has the step's type (no dispatch by name, no casts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..gateway import AsyncGateway, Gateway
    from ..models import Charge, ChargeRequest, Refund, WebhookEvent
    from ..money import Money

T = TypeVar("T")


class _Step(Generic[T]):
    """Something an operation waits for; the driver runs it, then resumes the operation."""

    __slots__ = ("_result",)
    _result: T


class Db(_Step[T]):
    """One database transaction (or read), run by the driver in its own thread of choice."""

    __slots__ = ("work",)

    def __init__(self, work: Callable[[], T]) -> None:
        self.work = work

    def run(self) -> None:
        self._result = self.work()

    def __iter__(self) -> Generator[Step, None, T]:
        yield self
        return self._result


class Call(_Step[T]):
    """One gateway operation, written for both gateways (the sync and the async one)."""

    __slots__ = ("on_async", "on_sync")

    def __init__(
        self,
        on_sync: Callable[[Gateway], T],
        on_async: Callable[[AsyncGateway], Awaitable[T]],
    ) -> None:
        self.on_sync = on_sync
        self.on_async = on_async

    def run(self, gateway: Gateway) -> None:
        self._result = self.on_sync(gateway)

    async def arun(self, gateway: AsyncGateway) -> None:
        self._result = await self.on_async(gateway)

    def __iter__(self) -> Generator[Step, None, T]:
        yield self
        return self._result


class Pause(_Step[None]):
    """Wait a little (a ``Ledger`` wakes early when this process changes a charge)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._result = None

    def __iter__(self) -> Generator[Step, None, None]:
        yield self
        return self._result


Step = Db[Any] | Call[Any] | Pause
Op = Generator[Step, None, T]


# -- the gateway calls ledger operations make -------------------------------------------------


def create_charge(request: ChargeRequest, provider: str) -> Call[Charge]:
    return Call(
        lambda gw: gw.create_charge(request, provider=provider),
        lambda gw: gw.create_charge(request, provider=provider),
    )


def retrieve_charge(charge: Charge) -> Call[Charge]:
    return Call(lambda gw: gw.retrieve_charge(charge), lambda gw: gw.retrieve_charge(charge))


def retrieve_by_reference(provider: str, reference: str) -> Call[Charge]:
    return Call(
        lambda gw: gw.retrieve_charge(provider, reference=reference),
        lambda gw: gw.retrieve_charge(provider, reference=reference),
    )


def refund(charge: Charge, amount: Money, reason: str | None, reference: str) -> Call[Refund]:
    return Call(
        lambda gw: gw.refund(charge, amount, reason, reference=reference),
        lambda gw: gw.refund(charge, amount, reason, reference=reference),
    )


def cancel_charge(charge: Charge) -> Call[Charge]:
    return Call(lambda gw: gw.cancel_charge(charge), lambda gw: gw.cancel_charge(charge))


def parse_webhook(
    provider: str, body: bytes | str, headers: Mapping[str, str] | None
) -> Call[WebhookEvent]:
    return Call(
        lambda gw: gw.parse_webhook(provider, body, headers),
        lambda gw: gw.parse_webhook(provider, body, headers),
    )
