"""Delivery tracking: receipts, per-recipient and per-cell state, aggregates, events."""
