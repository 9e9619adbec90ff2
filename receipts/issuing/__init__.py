"""Issuing receipts: prepare a call, price it, sign and chain it, commit it in groups.

``service`` is the use case (validate -> bind tags -> idempotency -> price -> sign -> commit),
``group_commit`` batches concurrent requests into one write transaction, ``receipt_builder``
builds and signs payloads with the verifier's own rules, ``cost_range`` bounds what a receipt
can hold.
"""
