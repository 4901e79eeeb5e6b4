"""One package per external system logwax reads from or writes to."""
