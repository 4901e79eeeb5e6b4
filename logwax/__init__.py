"""logwax: log and event shipping on bytewax that never loses and never duplicates a line."""

__version__ = "0.1.0"
