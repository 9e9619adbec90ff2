"""Reconciling a verified ledger with the providers' invoices (``receipt reconcile``).

Finance asks whether the ledger matches the bill. :mod:`~receipts.reconcile.invoices` reads
the bills (OpenAI Costs API pages, Anthropic cost reports, a mapped CSV) into exact lines;
:mod:`~receipts.reconcile.ledger` totals the verified ledger through the verifier's own rollup;
:mod:`~receipts.reconcile.matching` pairs both sides per provider, model and period and
:mod:`~receipts.reconcile.causes` explains the differences the data shows;
:mod:`~receipts.reconcile.teams` charges each team its share and applies the chargeback bar;
:mod:`~receipts.reconcile.report` prints it. Money is integer 10^-12 units throughout.
"""
