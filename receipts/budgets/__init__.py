"""Budgets: spending limits over a scope of receipts, per calendar period or fixed window."""
