"""Bundled CAP alerts for `tocsin demo` (real public alerts from the test corpus)."""
