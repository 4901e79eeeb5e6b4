"""The record model and the process-wide pieces every layer may use.

Imports nothing else of logwax: this is the floor.
"""
