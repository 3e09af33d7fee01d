"""Messages workers post to the app (workers never touch widgets; DESIGN.md house rule 4)."""

from __future__ import annotations

from textual.message import Message

__all__ = ["EngineAdvanced", "FeedTrouble", "ReplayEnded"]


class EngineAdvanced(Message):
    """The engine applied events; ``revision`` is its new revision.

    Bursts coalesce: a pending EngineAdvanced is replaced by a newer one (as toolong does with
    its line-count messages), so a flood of batches costs one redraw, not one per batch.
    """

    def __init__(self, revision: int) -> None:
        super().__init__()
        self.revision = revision

    def can_replace(self, message: Message) -> bool:
        """A newer revision makes an older pending one pointless."""
        return isinstance(message, EngineAdvanced)


class FeedTrouble(Message):
    """A feed could not start or stopped with an error; ``detail`` is untrusted text."""

    def __init__(self, feed: str, detail: str) -> None:
        super().__init__()
        self.feed = feed
        self.detail = detail


class ReplayEnded(Message):
    """The replay reached the end of its window (playing stopped by itself)."""
