"""Helpers shared by several test modules (import them as ``helpers.<name>``)."""
