"""Reusable widgets: a field with its message, a secret field, the step list, the check list."""
