"""Messages workers post to the app (workers never touch widgets; DESIGN.md house rule 4)."""

from __future__ import annotations

from textual.message import Message

__all__ = ["FeedTrouble", "ReplayEnded"]


class FeedTrouble(Message):
    """A feed could not start or stopped with an error; ``detail`` is untrusted text."""

    def __init__(self, feed: str, detail: str) -> None:
        super().__init__()
        self.feed = feed
        self.detail = detail


class ReplayEnded(Message):
    """The replay reached the end of its window (playing stopped by itself)."""
