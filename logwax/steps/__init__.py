"""Pure step logic the flows wire in: dedup, batching. No I/O here."""
