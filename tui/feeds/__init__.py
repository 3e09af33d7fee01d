"""Feeds: adapters that turn the outside world (RIS Live, RIPEstat, MRT, BGPStream, DNS) into core events."""
