"""MRT containers: plain, gzip (also multi-member), bzip2 (also multi-stream) or xz.

Told apart by their magic bytes, never by the file name (:func:`compression_of`, which the
SOURCE sniffer uses too). Decompression goes in small pieces so that damage costs only what
follows it, and a stream that is cut short or corrupt is reported, never fatal.
"""

from __future__ import annotations

import bz2
import gzip
import os
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
    opened: IO[bytes]
    if kind == "gzip":
        opened = gzip.open(path, "rb")  # noqa: SIM115 - the caller closes it
    elif kind == "bzip2":
        opened = bz2.open(path, "rb")  # noqa: SIM115 - the caller closes it
    elif kind == "xz":
        import lzma  # rare: not paid for at every start

        opened = lzma.open(path, "rb")  # noqa: SIM115 - the caller closes it
    else:
        opened = open(path, "rb")  # noqa: SIM115 - the caller closes it
    return opened


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


def container_chunks(fileobj: IO[bytes], end: StreamEnd, threads: int | None = None) -> Iterator[bytes]:
    """Decompressed chunks; sets ``end.problem`` when the compressed stream is cut or corrupt.

    bzip2 from a file that can be read again (seekable) is decompressed block by block in
    ``threads`` threads (default: one per available CPU, at most :data:`_MAX_THREADS`; 0: the
    serial path), see :func:`_bzip2_blocks`: the same bytes with the same ending, except that
    a damaged stream keeps every block before the damaged one.
    """
    head = fileobj.read(_READ_SIZE)
    kind = compression_of(head)
    if kind == "bzip2":
        workers = _decode_threads() if threads is None else threads
        if workers > 0 and _seekable(fileobj):
            yield from _bzip2_blocks(fileobj, head, end, workers)
            return
    yield from _serial(fileobj, head, kind, end)


def _serial(fileobj: IO[bytes], head: bytes, kind: str, end: StreamEnd) -> Iterator[bytes]:
    """Decompressed chunks in one thread, ``head`` being the first bytes read."""
    make: Callable[[], Any]
    errors: tuple[type[BaseException], ...]
    if kind == "gzip":
        make, errors = (lambda: zlib.decompressobj(31)), (zlib.error,)
    elif kind == "bzip2":
        make, errors = bz2.BZ2Decompressor, (OSError, ValueError, EOFError)
    elif kind == "xz":
        import lzma  # rare: not paid for at every start

        make, errors = lzma.LZMADecompressor, (lzma.LZMAError, EOFError)
    else:
        data = head
        while data:
            yield data
            data = fileobj.read(_READ_SIZE)
        return
    # zlib's, bz2's and lzma's decompressors share the calls used here but no declared type.
    decomp: Any = make()
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
            if len(rest) < len(_XZ):
                rest += fileobj.read(_READ_SIZE)  # a stream that ends where a read did
                pending = memoryview(b"")
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


# -- bzip2, block by block in threads -----------------------------------------------------------
#
# A bzip2 stream is "BZh" and a level digit, then blocks, each opening with a 48-bit magic and
# its CRC, then a 48-bit end-of-stream magic and the combined CRC; blocks sit at any bit
# offset, not on byte boundaries. Each block decodes on its own (it is one BWT block with its
# own CRC), so a block cut out at its bit offsets and wrapped in a header and an end marker of
# its own is a complete one-block stream that libbz2 decodes, checking its CRC, in a thread
# (the GIL is released while libbz2 works), while the reading thread decodes the records of
# the blocks before it. Nothing here guesses: a block that does not decode alone, a combined
# CRC that does not add up, a magic where no block can start, any layout not understood, and
# the file is decoded again from the start by the serial path, the bytes already handed out
# skipped, so the output and the way it ends are the serial path's. One difference, on
# purpose: a damaged block costs only itself. The serial path loses the output of the call
# that met the damage, which can hold a good block or two before it; here every block before
# the damaged one has been decoded and checked on its own, and is kept.

_MAX_THREADS = 4
_BLOCK_MAGIC = 0x314159265359
_END_MAGIC = 0x177245385090
_IN_FLIGHT = 3
"""Blocks being decoded per thread at most (memory: a block is at most 900 kB decoded)."""
_SPAN = 8 << 20
"""Compressed octets held with no block boundary in them before the serial path takes over
(a block of 900 kB never compresses to more than about a megabyte)."""


def _decode_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_THREADS))


def _seekable(fileobj: IO[bytes]) -> bool:
    try:
        return bool(fileobj.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _magic_patterns() -> list[tuple[bool, int, bytes, int, int, int, int]]:
    """(is end, bit shift k, the octets it fixes wholly, mask and value of the octet before
    them, mask and value of the octet after them) for each magic at each of 8 bit offsets."""
    out = []
    for is_end, magic in ((False, _BLOCK_MAGIC), (True, _END_MAGIC)):
        out.append((is_end, 0, magic.to_bytes(6, "big"), 0, 0, 0, 0))
        for k in range(1, 8):
            window = (magic << (8 - k)).to_bytes(7, "big")  # k unknown bits, magic, 8-k unknown
            low = (1 << (8 - k)) - 1
            high = (0xFF << (8 - k)) & 0xFF
            out.append((is_end, k, window[1:6], low, window[0] & low, high, window[6] & high))
    return out


_PATTERNS = _magic_patterns()


def _find_magics(buf: bytes, lo: int, hi: int) -> list[tuple[int, bool]]:
    """(bit offset in ``buf``, is end-of-stream) of every magic whose first octet is in [lo, hi)
    and that ``buf`` holds whole (with, for a magic off the octet grid, its last octet)."""
    found = []
    size = len(buf)
    for is_end, k, middle, low, low_value, high, high_value in _PATTERNS:
        if k == 0:
            i = buf.find(middle, lo, min(hi + 5, size))
            while i >= 0:
                found.append((i * 8, is_end))
                i = buf.find(middle, i + 1, min(hi + 5, size))
            continue
        j = buf.find(middle, lo + 1, min(hi + 6, size))
        while j >= 0:
            i = j - 1
            if i + 6 < size and buf[i] & low == low_value and buf[i + 6] & high == high_value:
                found.append((i * 8 + k, is_end))
            j = buf.find(middle, j + 1, min(hi + 6, size))
    found.sort()
    return found


def _bits(buf: bytes, start: int, count: int) -> int:
    """``count`` bits of ``buf`` from bit ``start``, as an integer."""
    first = start >> 3
    last = (start + count + 7) >> 3
    return (int.from_bytes(buf[first:last], "big") >> (last * 8 - start - count)) & ((1 << count) - 1)


def _one_block_stream(buf: bytes, start: int, stop: int, level: bytes, crc: int | None) -> bytes:
    """Bits [start, stop) of ``buf`` (one block) as a stream of its own: header, the block, and,
    given the block's CRC, the end-of-stream magic with that CRC as the combined one."""
    count = stop - start
    value = _bits(buf, start, count)
    if crc is not None:
        value = (value << 80) | (_END_MAGIC << 32) | crc
        count += 80
    pad = -count % 8
    return b"BZh" + level + (value << pad).to_bytes((count + pad) // 8, "big")


class _Job:
    """One block to decode; ``done`` is held until a worker has filled ``output`` or ``error``."""

    __slots__ = ("data", "done", "error", "output", "complete", "cut")

    def __init__(self, buf: bytes, start: int, stop: int, level: bytes, crc: int | None) -> None:
        first = start >> 3
        self.data = buf[first : (stop + 7) >> 3]
        self.cut = (start - first * 8, stop - first * 8, level, crc)
        """Where the block lies in ``data`` (bits), the stream's level, the block's CRC."""
        self.complete = crc is not None
        """The block came with its end marker: it must decode to the end of its stream."""
        self.output = b""
        self.error: BaseException | None = None
        self.done = _thread_lock()
        self.done.acquire()


def _thread_lock() -> Any:
    import threading  # only for the threaded bzip2 path: not paid for at every start

    return threading.Lock()


def _work(jobs: Any) -> None:
    """A decoding thread: jobs until a None."""
    while True:
        job = jobs.get()
        if job is None:
            return
        try:
            decomp = bz2.BZ2Decompressor()
            job.output = decomp.decompress(_one_block_stream(job.data, *job.cut))
            if job.complete and (not decomp.eof or decomp.unused_data):
                job.error = ValueError("block did not decode alone")
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            job.error = exc
        job.data = b""
        job.done.release()


class _Irregular(Exception):
    """Something the block-by-block path does not handle: the serial path takes over."""


def _bzip2_blocks(fileobj: IO[bytes], head: bytes, end: StreamEnd, threads: int) -> Iterator[bytes]:
    """The bzip2 stream(s) of ``fileobj`` decompressed block by block in ``threads`` threads."""
    import queue  # only for the threaded bzip2 path: not paid for at every start
    import threading

    origin = fileobj.tell() - len(head)
    jobs: Any = queue.SimpleQueue()
    workers = [threading.Thread(target=_work, args=(jobs,), name=f"bzip2-{n}", daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    handed_out = 0
    try:
        reader = _BlockReader(fileobj, head)
        pending: list[_Job] = []
        limit = threads * _IN_FLIGHT
        try:
            for job in reader.jobs():
                jobs.put(job)
                pending.append(job)
                while len(pending) >= limit or (pending and _finished(pending[0])):
                    out = _result(pending.pop(0))
                    if out:
                        handed_out += len(out)
                        yield out
            while pending:
                out = _result(pending.pop(0))
                if out:
                    handed_out += len(out)
                    yield out
        except _Irregular:
            for job in pending:
                job.done.acquire()  # let the threads finish what they hold
            yield from _again(fileobj, origin, handed_out, end)
            return
        end.problem = reader.problem
    finally:
        for _ in workers:
            jobs.put(None)


def _finished(job: _Job) -> bool:
    if job.done.acquire(False):
        job.done.release()
        return True
    return False


def _result(job: _Job) -> bytes:
    job.done.acquire()
    if job.error is not None:
        raise _Irregular(str(job.error))
    return job.output


def _again(fileobj: IO[bytes], origin: int, skip: int, end: StreamEnd) -> Iterator[bytes]:
    """The serial path from the start of the file, without its first ``skip`` bytes."""
    fileobj.seek(origin)
    for chunk in _serial(fileobj, fileobj.read(_READ_SIZE), "bzip2", end):
        if skip:
            if len(chunk) <= skip:
                skip -= len(chunk)
                continue
            chunk = chunk[skip:]
            skip = 0
        yield chunk


class _BlockReader:
    """Cuts the compressed input into one-block streams (:meth:`jobs`), reading as it goes."""

    def __init__(self, fileobj: IO[bytes], head: bytes) -> None:
        self.fileobj = fileobj
        self.buf = head
        self.base = 0
        """File offset (from where reading began) of ``buf[0]``."""
        self.scanned = 0
        """Offset up to which magics were looked for (their first octet)."""
        self.magics: list[tuple[int, bool]] = []
        """Magics found past the one being cut at: (absolute bit offset, is end-of-stream)."""
        self.at_end = False
        self.problem = ""

    def _read(self) -> bool:
        """Read more of the file into ``buf``; False at its end."""
        if self.at_end:
            return False
        more = self.fileobj.read(_READ_SIZE)
        if not more:
            self.at_end = True
            return False
        self.buf = self.buf + more
        return True

    def _drop_before(self, offset: int) -> None:
        """Forget the input before file offset ``offset``."""
        cut = offset - self.base
        if cut > _READ_SIZE:
            self.buf = self.buf[cut:]
            self.base = offset

    def _scan(self) -> None:
        """Find the magics in what was read since the last scan (all of it at the end)."""
        hi = len(self.buf) if self.at_end else len(self.buf) - 7
        lo = self.scanned - self.base
        if hi > lo:
            base_bits = self.base * 8
            self.magics += [(base_bits + bit, is_end) for bit, is_end in _find_magics(self.buf, lo, hi)]
            self.scanned = self.base + hi

    def _next_magic(self) -> tuple[int, bool] | None:
        while not self.magics:
            if len(self.buf) > _SPAN:
                raise _Irregular("no block boundary where one must be")
            if not self._read():
                self._scan()
                if not self.magics:
                    return None
                break
            self._scan()
        return self.magics.pop(0)

    def _have(self, offset: int, count: int) -> bytes:
        """``count`` octets from file offset ``offset`` (fewer at the end of the file)."""
        while offset + count > self.base + len(self.buf) and self._read():
            pass
        return self.buf[offset - self.base : offset - self.base + count]

    def jobs(self) -> Iterator[_Job]:
        """One job per block, stream after stream; raises :class:`_Irregular` for the unexpected."""
        stream = 0
        while True:
            header = self._have(stream, 4)
            if len(header) < 4 or not header.startswith(b"BZh") or header[3:] not in b"123456789":
                raise _Irregular("stream header")
            level = header[3:]
            if stream + 4 > self.scanned:
                self.scanned = stream + 4
            self.magics = [m for m in self.magics if m[0] >= (stream + 4) * 8]
            magic = self._next_magic()
            if magic is None or magic[0] != (stream + 4) * 8:
                raise _Irregular("no block where the stream's first block starts")
            combined = 0
            while not magic[1]:
                start = magic[0]
                following = self._next_magic()
                if following is None:
                    # The last block of a file cut short: what the serial path makes of it.
                    yield self._tail(start, level)
                    return
                stop = following[0]
                buf_bits = self.base * 8
                crc = _bits(self.buf, start - buf_bits + 48, 32)
                combined = (((combined << 1) | (combined >> 31)) & 0xFFFFFFFF) ^ crc
                yield _Job(self.buf, start - buf_bits, stop - buf_bits, level, crc)
                self._drop_before(stop >> 3)
                magic = following
            # The end of a stream: its combined CRC, then the next stream or the file's end.
            stored = self._have(magic[0] >> 3, 11)
            if len(stored) < 11:
                raise _Irregular("end of stream cut short")
            if _bits(self.buf, magic[0] - self.base * 8 + 48, 32) != combined:
                raise _Irregular("combined CRC")
            stream = (magic[0] + 80 + 7) >> 3
            rest = self._have(stream, 6)
            if compression_of(rest) == "bzip2":
                continue
            if compression_of(rest):
                raise _Irregular("another kind of stream follows")
            tail = self.buf[stream - self.base :] + self.fileobj.read()
            if tail.strip(b"\x00"):
                self.problem = f"{len(tail)} stray octets after the bzip2 stream ignored"
            return

    def _tail(self, start: int, level: bytes) -> _Job:
        """The incomplete last block: decoded as far as the serial path would, then cut short."""
        while self._read():
            pass
        stop = (self.base + len(self.buf)) * 8
        self.problem = "bzip2 stream cut short"
        return _Job(self.buf, start - self.base * 8, stop - self.base * 8, level, None)
