"""Durable state: tables, the database, every SQL statement, the ledger file and its self-check.

``tables`` holds the SQLModel tables, ``database`` the engine and transactions, ``queries`` and
``append_sql`` the statements (the second on the raw driver connection for the append
transaction), ``export`` and ``ledger_file`` the ledger file (spec §7), ``self_check`` the
start-up verification of the service's own ledger.
"""
