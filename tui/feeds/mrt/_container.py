"""MRT containers: plain, gzip (also multi-member), bzip2 (also multi-stream) or xz.

Told apart by their magic bytes, never by the file name (:func:`compression_of`, which the
SOURCE sniffer uses too). Decompression goes in small pieces so that damage costs only what
follows it, and a stream that is cut short or corrupt is reported, never fatal.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["StreamEnd", "compression_of", "container_chunks", "open_decompressed"]

_GZIP, _BZIP2, _XZ = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"


def compression_of(head: bytes) -> str:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``""`` (not compressed), from a file's first bytes."""
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_BZIP2):
        return "bzip2"
    if head.startswith(_XZ):
        return "xz"
    return ""


def open_decompressed(path: Any) -> IO[bytes]:
    """``path`` opened for reading through the decompressor its magic bytes call for."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    kind = compression_of(head)
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


_READ_SIZE = 1 << 20
_PIECE = 1 << 14
"""Compressed input is fed in pieces this big: a decompressor that meets corrupt data loses the
output of the call that raised, so small pieces keep almost everything before the damage."""
_OUT_LIMIT = 8 << 20


class StreamEnd:
    """How the container stream ended: cleanly, cut short, or corrupt."""

    __slots__ = ("problem",)

    def __init__(self) -> None:
        self.problem = ""


def container_chunks(fileobj: IO[bytes], end: StreamEnd) -> Iterator[bytes]:
    """Decompressed chunks; sets ``end.problem`` when the compressed stream is cut or corrupt."""
    head = fileobj.read(_READ_SIZE)
    kind = compression_of(head)
    make: Callable[[], Any]
    errors: tuple[type[BaseException], ...]
    if kind == "gzip":
        make, errors = (lambda: zlib.decompressobj(31)), (zlib.error,)
    elif kind == "bzip2":
        make, errors = bz2.BZ2Decompressor, (OSError, ValueError, EOFError)
    elif kind == "xz":
        make, errors = lzma.LZMADecompressor, (lzma.LZMAError, EOFError)
    else:
        data = head
        while data:
            yield data
            data = fileobj.read(_READ_SIZE)
        return
    decomp = make()
    pending = memoryview(head)
    while True:
        if not pending:
            more = fileobj.read(_READ_SIZE)
            if not more:
                break
            pending = memoryview(more)
        piece, pending = pending[:_PIECE], pending[_PIECE:]
        try:
            if kind == "gzip":
                saved = decomp.copy()
                try:
                    out = decomp.decompress(piece, _OUT_LIMIT)
                except zlib.error:
                    # Replay the piece in small steps to keep what decodes before the damage
                    # (a bad CRC only shows at the very end of the stream).
                    decomp = saved
                    for step in range(0, len(piece), 512):
                        saved = decomp.copy()
                        try:
                            yield decomp.decompress(piece[step : step + 512])
                        except zlib.error:
                            decomp = saved
                            for octet in range(step, min(step + 512, len(piece))):
                                yield decomp.decompress(piece[octet : octet + 1])
                            raise
                    raise
                while True:
                    if out:
                        yield out
                    if decomp.eof or not decomp.unconsumed_tail:
                        break
                    out = decomp.decompress(decomp.unconsumed_tail, _OUT_LIMIT)
            else:
                out = decomp.decompress(piece, _OUT_LIMIT)
                while True:
                    if out:
                        yield out
                    if decomp.eof or decomp.needs_input:
                        break
                    out = decomp.decompress(b"", _OUT_LIMIT)
        except errors as exc:
            end.problem = f"{kind} data corrupt ({exc})"
            return
        if decomp.eof:
            rest = bytes(decomp.unused_data) + bytes(pending)
            if compression_of(rest):
                decomp = make()  # the next member / stream (cat a.gz b.gz, pbzip2)
                pending = memoryview(rest)
                continue
            tail = rest + fileobj.read()
            if tail.strip(b"\x00"):
                end.problem = f"{len(tail)} stray octets after the {kind} stream ignored"
            return
    if kind == "gzip":
        try:
            tail_out = decomp.flush()
        except zlib.error:
            tail_out = b""
        if tail_out:
            yield tail_out
    if not decomp.eof:
        end.problem = f"{kind} stream cut short"
