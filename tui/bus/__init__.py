"""The event bus: many collectors and many consoles sharing one stream of events.

On one host, consoles follow the collector's SQLite journal (:mod:`tui.journal.follow`); across
hosts, collectors publish to a NATS JetStream stream and consoles consume it
(:mod:`tui.bus.nats`). The wire contract (subjects, message ids, heartbeats, bus URLs) is in
:mod:`tui.bus.protocol`; sharding a watchlist over several collectors in :mod:`tui.bus.shard`;
telling a silent collector from a quiet one in :mod:`tui.bus.monitor`.

Only :mod:`tui.bus.nats` imports the NATS client, and only ``--bus`` imports it: without a bus,
Watchfloor is SQLite and nothing else.
"""
