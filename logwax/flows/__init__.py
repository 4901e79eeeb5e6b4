"""Dataflow builders: they wire connectors and steps together and hold no I/O code of their own."""
