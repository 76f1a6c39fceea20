"""``paymux charges list`` and ``paymux refunds list``: pages of the ledger, as a table or JSON.

They read the database only (no provider settings, no network), like ``paymux ledger show``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection

from ..errors import InvalidRequest
from ..models import Charge
from . import queries
from .cli_db import existing_store
from .queries import Page, RefundRow

T = TypeVar("T")
EXIT_OK, EXIT_FAILED = 0, 1
DEFAULT_DB = "sqlite:///paymux.db"


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _read(url: str, work: Callable[[Connection], T]) -> T | None:
    """``work`` in a read transaction. A missing database, or one without the paymux schema, is
    ``NoDatabase`` (exit 4): listing must not create an empty ledger where the user mistyped."""
    store = existing_store(url)
    try:
        store.ensure_schema()
        return store.read(work)
    finally:
        store.dispose()


def _moment(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{text!r:.40} is not an ISO 8601 time such as 2026-03-10T09:00Z", field=field
        ) from None
    # A time without a zone on the command line means UTC, the ledger's own clock.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _charge_json(charge: Charge) -> dict[str, Any]:
    return charge.model_dump(mode="json", exclude={"raw", "refunds"})


def _refund_json(row: RefundRow) -> dict[str, Any]:
    return {
        "charge_reference": row.charge_reference,
        "provider": row.provider,
        "provider_id": row.provider_id,
        "reference": row.reference,
        "amount": {"amount": row.amount.amount, "currency": row.amount.currency},
        "status": row.status,
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _emit(
    args: argparse.Namespace,
    page: Page[Any],
    as_json: Callable[[Any], dict[str, Any]],
    table: Callable[[Any, Page[Any]], None],
) -> int:
    if args.json:
        print(
            json.dumps(
                {"items": [as_json(i) for i in page.items], "next_cursor": page.next_cursor},
                indent=2,
            )
        )
        return EXIT_OK
    console = _console()
    table(console, page)
    if page.next_cursor is not None:
        console.print(f"more: --cursor {page.next_cursor}")
    return EXIT_OK


def _missing(args: argparse.Namespace) -> int:
    _console().print(f"[red]no ledger database at {args.db}[/red]")
    return EXIT_FAILED


def charges_list_command(args: argparse.Namespace) -> int:
    query = queries.charge_filter(
        status=args.status or None,
        provider=args.provider,
        since=_moment(args.since, "since"),
        until=_moment(args.until, "until"),
        reference_prefix=args.prefix,
        abandoned=True if args.abandoned else None,
        limit=args.limit,
        cursor=args.cursor,
    )
    page = _read(args.db or DEFAULT_DB, lambda c: queries.charges_page(c, query))
    if page is None:
        return _missing(args)

    def table(console: Any, shown: Page[Charge]) -> None:
        from rich.table import Table

        out = Table(title="Charges")
        for column in ("reference", "provider", "id", "amount", "status", "refunded", "created"):
            out.add_column(column)
        for c in shown.items:
            out.add_row(
                c.reference or "-",
                c.provider,
                c.id,
                str(c.amount),
                c.status.value,
                str(c.refunded_amount),
                c.created_at.isoformat() if c.created_at else "-",
            )
        console.print(out)

    return _emit(args, page, _charge_json, table)


def refunds_list_command(args: argparse.Namespace) -> int:
    query = queries.refund_filter(
        reference=args.reference,
        status=args.status or None,
        provider=args.provider,
        limit=args.limit,
        cursor=args.cursor,
    )
    page = _read(args.db or DEFAULT_DB, lambda c: queries.refunds_page(c, query))
    if page is None:
        return _missing(args)

    def table(console: Any, shown: Page[RefundRow]) -> None:
        from rich.table import Table

        out = Table(title="Refunds")
        for column in ("charge", "reference", "provider id", "amount", "status", "created"):
            out.add_column(column)
        for r in shown.items:
            out.add_row(
                r.charge_reference,
                r.reference or "-",
                r.provider_id or "-",
                str(r.amount),
                r.status,
                r.created_at.isoformat(),
            )
        console.print(out)

    return _emit(args, page, _refund_json, table)
