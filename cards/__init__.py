"""Guideline outcome → CDS Hooks cards and one-click suggestions."""
