"""What a reader has seen: counters per file, summed over files."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MrtStats"]

@dataclass(slots=True)
class MrtStats:
    """What a reader has seen so far (counters; updated while reading)."""

    records: int = 0
    """MRT records read (complete ones, including rejected and skipped ones)."""
    rejected: int = 0
    """Records that could not be decoded (each also came out as a RecordRejected)."""
    skipped: int = 0
    """Records or messages deliberately not turned into routes (OPEN, KEEPALIVE, multicast...)."""
    truncated: bool = False
    """The file (or its compressed stream) ended in the middle of a record."""
    truncated_at: int | None = None
    """Decompressed byte offset of the first incomplete record (of the first truncated file)."""
    corrupt_header_at: int | None = None
    """Offset of a header that could not be trusted (reading stopped there; first such file)."""
    announcements: int = 0
    """Prefixes announced (every NLRI of every UPDATE, every RIB entry)."""
    withdrawals: int = 0
    state_changes: int = 0
    events: int = 0
    """Events handed out."""
    bytes: int = 0
    """Decompressed bytes consumed."""
    files: int = 0
    first_ts: float | None = None
    last_ts: float | None = None

    def add(self, other: MrtStats) -> None:
        """Fold another file's counters into this one."""
        counters = ("records", "rejected", "skipped", "announcements", "withdrawals", "state_changes", "events", "bytes", "files")
        for name in counters:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.truncated = self.truncated or other.truncated
        if self.truncated_at is None:
            self.truncated_at = other.truncated_at
        if self.corrupt_header_at is None:
            self.corrupt_header_at = other.corrupt_header_at
        if other.first_ts is not None and (self.first_ts is None or other.first_ts < self.first_ts):
            self.first_ts = other.first_ts
        if other.last_ts is not None and (self.last_ts is None or other.last_ts > self.last_ts):
            self.last_ts = other.last_ts
