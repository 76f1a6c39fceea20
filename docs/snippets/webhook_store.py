"""Dedupe and apply verified webhook events: a stand-in for your own payments table.

One SQLite file with three tables. Every step of an event runs in one transaction, so a crash can
never mark an event as handled without applying it.

Refunds are kept one row per provider refund id. The refunded total of a payment is the sum of
its succeeded refunds, or what the provider states as its cumulative ``refunded_amount`` when
that is more (refunds made in the provider's dashboard): never an amount added up from events,
which arrive late, twice or out of order.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from paymux import Charge, ChargeStatus, Refund, WebhookEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE TABLE IF NOT EXISTS payments (
    provider  TEXT NOT NULL,
    charge_id TEXT NOT NULL,
    reference TEXT,
    amount    INTEGER NOT NULL,  -- minor units, as charged
    status    TEXT NOT NULL,
    refunded  INTEGER NOT NULL,  -- minor units, cumulative
    PRIMARY KEY (provider, charge_id)
);
CREATE TABLE IF NOT EXISTS refunds (
    provider  TEXT NOT NULL,
    refund_id TEXT NOT NULL,
    charge_id TEXT NOT NULL,
    amount    INTEGER NOT NULL,
    status    TEXT NOT NULL,     -- pending | succeeded | failed
    PRIMARY KEY (provider, refund_id)
);
"""

_PAID = (ChargeStatus.SUCCEEDED, ChargeStatus.PARTIALLY_REFUNDED, ChargeStatus.REFUNDED)


class PaymentStore:
    def __init__(self, path: str) -> None:
        self.path = path
        with closing(sqlite3.connect(path)) as db:
            db.executescript(SCHEMA)

    def apply(self, event: WebhookEvent) -> bool:
        """Apply ``event`` once. False when it was handled before (a redelivery)."""
        with closing(sqlite3.connect(self.path)) as db, db:  # one transaction
            inserted = db.execute(
                "INSERT INTO webhook_events VALUES (?, ?) ON CONFLICT DO NOTHING",
                (event.provider, event.id),
            ).rowcount
            if not inserted:
                return False
            if event.charge is not None:
                self._apply_charge(db, event.charge)
            if event.refund is not None:
                # A refund event may carry no charge: an ECommPay refund callback states only
                # this refund and what is left of the payment (event.remaining_amount).
                self._apply_refund(db, event.refund)
                left = event.remaining_amount.amount if event.remaining_amount else None
                self._settle(db, event.provider, event.refund.charge_id, left)
        return True

    def _apply_charge(self, db: sqlite3.Connection, charge: Charge) -> None:
        refunded = charge.refunded_amount.amount if charge.refunded_amount else 0
        row = db.execute(
            "SELECT status, refunded FROM payments WHERE provider = ? AND charge_id = ?",
            (charge.provider, charge.id),
        ).fetchone()
        if row is not None:
            # Deliveries can arrive out of order: an older event must not undo a newer one.
            if ChargeStatus(row[0]).is_final and not charge.status.is_final:
                return
            if ChargeStatus(row[0]) in _PAID and charge.status not in _PAID:
                return  # paid stays paid; a contradiction is for a human, not for a webhook
            refunded = max(refunded, row[1])
        db.execute(
            "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, charge_id)"
            " DO UPDATE SET status = excluded.status, refunded = excluded.refunded",
            (
                charge.provider,
                charge.id,
                charge.reference,
                charge.amount.amount,
                charge.status.value,
                refunded,
            ),
        )
        self._settle(db, charge.provider, charge.id)

    def _apply_refund(self, db: sqlite3.Connection, refund: Refund) -> None:
        # A refund's outcome is final: a late "pending" never undoes "succeeded" or "failed".
        db.execute(
            "INSERT INTO refunds VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (provider, refund_id) DO UPDATE SET status = excluded.status"
            " WHERE refunds.status = 'pending'",
            (
                refund.provider,
                refund.id,
                refund.charge_id,
                refund.amount.amount,
                refund.status.value,
            ),
        )

    def _settle(
        self, db: sqlite3.Connection, provider: str, charge_id: str, left: int | None = None
    ) -> None:
        """The payment's refunded total and status from its refunds, or from what the provider
        says is left of it (``left``): the larger total wins."""
        row = db.execute(
            "SELECT amount, status, refunded FROM payments WHERE provider = ? AND charge_id = ?",
            (provider, charge_id),
        ).fetchone()
        if row is None or ChargeStatus(row[1]) not in _PAID:
            return  # refunds recorded before their payment count once it arrives
        (succeeded,) = db.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM refunds"
            " WHERE provider = ? AND charge_id = ? AND status = 'succeeded'",
            (provider, charge_id),
        ).fetchone()
        refunded = max(row[2], succeeded, row[0] - left if left is not None else 0)
        if refunded >= row[0]:
            status = ChargeStatus.REFUNDED
        elif refunded > 0:
            status = ChargeStatus.PARTIALLY_REFUNDED
        else:
            status = ChargeStatus.SUCCEEDED
        db.execute(
            "UPDATE payments SET refunded = ?, status = ? WHERE provider = ? AND charge_id = ?",
            (refunded, status.value, provider, charge_id),
        )

    def status(self, provider: str, charge_id: str) -> ChargeStatus | None:
        with closing(sqlite3.connect(self.path)) as db:
            row = db.execute(
                "SELECT status FROM payments WHERE provider = ? AND charge_id = ?",
                (provider, charge_id),
            ).fetchone()
        return None if row is None else ChargeStatus(row[0])

    def refunded(self, provider: str, charge_id: str) -> int | None:
        """The payment's cumulative refunded amount in minor units (None: unknown payment)."""
        with closing(sqlite3.connect(self.path)) as db:
            row = db.execute(
                "SELECT refunded FROM payments WHERE provider = ? AND charge_id = ?",
                (provider, charge_id),
            ).fetchone()
        return None if row is None else int(row[0])
