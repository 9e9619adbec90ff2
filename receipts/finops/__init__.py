"""FinOps exports of receipts: FOCUS 1.2 rows (``focus``) and their CSV and Parquet files
(``focus_files``), from a verified ledger (``focus_ledger``) or from the service's store.

Here rather than in ``verifier``: the verifier is the code an auditor must trust and keeps to
verifying (a few well-kept libraries, no optional ones); an export only presents receipts the
verifier has verified, through its public API, and needs the service's category units and,
for Parquet, ``pyarrow``. The service and the ``receipt focus`` command share this one package.
"""
