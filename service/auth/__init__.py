"""API keys, roles and the agencies that send alerts."""
