"""Budget tables: definitions, per-period counters, daily spend, reservations and approvals.

Money columns hold integer 10^-12 units of the reporting currency. They are exact numerics on
PostgreSQL and decimal text on SQLite, whose integers stop at 2^63 (about 9.2 million currency
units, less than one receipt may hold): the code reads them as Python integers and writes them
back, never adds them in SQL on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

MONEY = sa.Numeric(38, 0).with_variant(sa.String(48), "sqlite")
"""An exact amount in 10^-12 units (see the module docstring)."""


class BudgetRow(SQLModel, table=True):
    """A budget's definition (its name is unique: ``budget set`` with a known name replaces)."""

    __tablename__ = "receipts_budget"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(unique=True, max_length=256)
    scope_json: str
    period_json: str
    limit_units: str = Field(sa_type=MONEY)
    thresholds_json: str
    at_limit: str = Field(max_length=16)
    created_at: int = Field(sa_type=sa.BigInteger)


class BudgetCounterRow(SQLModel, table=True):
    """Spent and reserved in one period of one budget (the rows authorizations lock)."""

    __tablename__ = "receipts_budget_counter"
    budget_id: str = Field(primary_key=True, max_length=64)
    period_start: int = Field(primary_key=True, sa_type=sa.BigInteger,
                              sa_column_kwargs={"autoincrement": False})
    period_end: int = Field(sa_type=sa.BigInteger)
    spent: str = Field(sa_type=MONEY)
    reserved: str = Field(sa_type=MONEY)
    receipts: int = Field(default=0, sa_type=sa.BigInteger)
    unpriced: int = Field(default=0, sa_type=sa.BigInteger)


class BudgetDayRow(SQLModel, table=True):
    """Spend of one budget in one UTC day (the burn rate the forecast is made from)."""

    __tablename__ = "receipts_budget_day"
    budget_id: str = Field(primary_key=True, max_length=64)
    day_start: int = Field(primary_key=True, sa_type=sa.BigInteger,
                           sa_column_kwargs={"autoincrement": False})
    spent: str = Field(sa_type=MONEY)


class ReservationRow(SQLModel, table=True):
    """An estimate held for one call until its receipt settles it or it expires."""

    __tablename__ = "receipts_reservation"
    __table_args__ = (
        sa.UniqueConstraint("agent_id", "request_id", name="uq_reservation_agent_request"),
        sa.Index("ix_reservation_due", "state", "expires_at"),
    )
    id: str = Field(primary_key=True, max_length=64)
    agent_id: str = Field(max_length=64)
    request_id: str = Field(max_length=256)
    estimate: str = Field(sa_type=MONEY)
    state: str = Field(max_length=16)  # held | settled | expired
    created_at: int = Field(sa_type=sa.BigInteger)
    expires_at: int = Field(sa_type=sa.BigInteger)
    receipt_id: str | None = Field(default=None, max_length=64)


class HoldRow(SQLModel, table=True):
    """The part of a reservation held against one budget's period."""

    __tablename__ = "receipts_budget_hold"
    __table_args__ = (sa.Index("ix_hold_budget", "budget_id"),)
    reservation_id: str = Field(primary_key=True, max_length=64)
    budget_id: str = Field(primary_key=True, max_length=64)
    period_start: int = Field(sa_type=sa.BigInteger)
    amount: str = Field(sa_type=MONEY)


class ApprovalRow(SQLModel, table=True):
    """A call waiting for a human because a budget with ``at_limit: approve`` is at its limit."""

    __tablename__ = "receipts_approval"
    __table_args__ = (
        sa.UniqueConstraint("agent_id", "request_id", name="uq_approval_agent_request"),
    )
    id: str = Field(primary_key=True, max_length=64)
    agent_id: str = Field(max_length=64)
    request_id: str = Field(max_length=256)
    budget_id: str = Field(max_length=64)
    reason: str
    request_json: str
    state: str = Field(max_length=16)  # pending | approved | denied
    reservation_id: str | None = Field(default=None, max_length=64)
    created_at: int = Field(sa_type=sa.BigInteger)
    decided_at: int | None = Field(default=None, sa_type=sa.BigInteger)
