"""landscapes."""
