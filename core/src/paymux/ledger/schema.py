"""The ledger's tables (SQLAlchemy Core) and the schema version they carry.

Every table is prefixed ``paymux_`` so the ledger can live in an application's own database.
Amounts are ``BigInteger`` minor units; timestamps are naive UTC (SQLite keeps no time zone, so
the store converts at its boundary and nothing else has to care).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

SCHEMA_VERSION = 2
"""Bump together with an entry in ``store.MIGRATIONS`` whenever a table changes."""

metadata = MetaData()

meta = Table(
    "paymux_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

charges = Table(
    "paymux_charges",
    metadata,
    Column("reference", String(64), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("provider_id", String(255), nullable=True),
    Column("method", String(64), nullable=True),
    Column("country", String(2), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("refunded", BigInteger, nullable=False, default=0),
    # What paymux knows about creating the payment at the provider: new | sending | created |
    # unknown (the request may have reached the provider) | rejected (the provider refused it).
    Column("create_state", String(16), nullable=False),
    Column("create_lease_until", DateTime, nullable=True),
    Column("create_error", Text, nullable=True),
    Column("snapshot", Text, nullable=True),  # Charge as JSON, without .raw
    Column("flag_count", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("checked_at", DateTime, nullable=True),
    # Schema 2: the request's metadata (JSON), kept whether or not the provider stores it, and
    # when the merchant abandoned the charge locally (the provider had no cancel).
    Column("charge_metadata", Text, nullable=True),
    Column("abandoned_at", DateTime, nullable=True),
    UniqueConstraint("provider", "provider_id", name="uq_paymux_charges_provider_id"),
    Index("ix_paymux_charges_status_updated", "status", "updated_at"),
)

refunds = Table(
    "paymux_refunds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "charge_reference",
        String(64),
        ForeignKey("paymux_charges.reference", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("provider", String(64), nullable=False),
    Column("provider_id", String(255), nullable=True),
    Column("reference", String(128), nullable=True, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # reserved (held by ledger.refund before the provider call) | unknown (the request may have
    # reached the provider) | pending | succeeded | failed
    Column("status", String(16), nullable=False),
    Column("reason", String(255), nullable=True),
    Column("snapshot", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("provider", "provider_id", name="uq_paymux_refunds_provider_id"),
    Index("ix_paymux_refunds_charge", "charge_reference"),
)

events = Table(
    "paymux_events",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("charge_reference", String(64), nullable=True),
    # The provider's charge id, so an event that arrives before the charge is known ("orphan")
    # can be applied as soon as create_charge learns the id.
    Column("charge_id", String(255), nullable=True),
    Column("type", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # webhook | poll | create | refund
    Column("outcome", String(16), nullable=False),  # applied | unchanged | flagged | orphan
    Column("status_after", String(32), nullable=True),
    Column("payload", Text, nullable=True),  # the translated event, without .raw
    Column("received_at", DateTime, nullable=False),
    Index("ix_paymux_events_charge", "charge_reference", "received_at"),
    Index("ix_paymux_events_orphans", "provider", "charge_id", "outcome"),
)

flags = Table(
    "paymux_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("charge_reference", String(64), nullable=True),
    Column("provider", String(64), nullable=False),
    Column("event_id", String(255), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_paymux_flags_charge", "charge_reference"),
)


def upgrade_from_1(conn: Connection) -> None:
    """Schema 1 -> 2: the charges' metadata and abandonment columns (both nullable, so every
    existing row stays valid; SQLite and PostgreSQL both add such a column in place)."""
    for column in (charges.c.charge_metadata, charges.c.abandoned_at):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE paymux_charges ADD COLUMN {column.name} {kind}"))
