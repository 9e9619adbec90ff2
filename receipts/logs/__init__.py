"""Usage logs as providers, gateways and tracers write them, read into one call record.

``receipt audit`` (and the backfill import) read logs nobody wrote for us: provider responses,
admin usage and cost pages, OpenTelemetry traces, LiteLLM spend logs, any CSV. Each reader turns
its shape into :class:`receipts.logs.records.LogCall`; usage is normalized by the service's own
:func:`receipts.pricing.usage.normalize_usage`, never by a copy.
"""
