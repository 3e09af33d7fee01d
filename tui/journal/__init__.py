"""The journal (SQLite record of every event, with checkpoints) and the replay engine over it."""

from tui.journal.replay import ReplaySession, format_time, parse_time, record_sources
from tui.journal.store import JournalError, JournalReader, JournalWriter, is_journal

__all__ = [
    "JournalError",
    "JournalReader",
    "JournalWriter",
    "ReplaySession",
    "format_time",
    "is_journal",
    "parse_time",
    "record_sources",
]
