"""Helpers every layer may use: clock, errors, text safety, logs, metrics, rendering."""
