"""The steps a ledger operation yields: a database transaction, a gateway call, a pause.

Operations are generators of these, written once; ``Ledger`` and ``AsyncLedger`` run them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Db:
    work: Callable[[], Any]


@dataclass(frozen=True)
class Net:
    method: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class Pause:
    seconds: float


Step = Db | Net | Pause
Op = Generator[Step, Any, T]


def net(method: str, *args: Any, **kwargs: Any) -> Net:
    return Net(method, args, kwargs)
