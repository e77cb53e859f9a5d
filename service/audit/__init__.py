"""Append-only, hash-chained audit of every intake, decision and state change."""
