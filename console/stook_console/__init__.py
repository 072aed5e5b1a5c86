"""Stook web console (docs/console.md)."""
