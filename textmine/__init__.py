"""Passages, themes, stance and tables (segment, tag, aggregate)."""
