"""Watchfloor: a terminal watch floor for Internet routing and DNS."""

__version__ = "0.1.0"
