"""OS image files (read-only squashfs): read members without mounting, copy one onto a slot
partition and check what reached the disk. Shared by the installer (slot A) and ``stook-os
write-slot`` (the passive slot of a running node).

Writing: the bulk goes with O_DIRECT from page-aligned buffers in large blocks, so the copy
neither fills the page cache (where it would compete with, and wait behind, other dirty pages)
nor evicts what the system needs; a reader thread reads and hashes the next block while the
current one is written. Checking: the written bytes are read back once with O_DIRECT, so they
come from the device and not from a cached copy of what was just written.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mmap
import os
import queue
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from stook_core.osrelease import os_release_version, parse_os_release

BLOCK = 8 << 20  # bytes per write and per read-back read
ALIGN = 4096  # O_DIRECT offsets, lengths and buffers: a multiple of any logical block size
BUFFERS = 3  # one being written, one being read, one spare
SQUASHFS_MAGIC = b"hsqs"
Progress = Callable[[float, str], None]


def image_size(image: Path) -> int | None:
    """Bytes in the image file or block device (a disk's st_size is 0); None if unreadable."""
    try:
        if not stat.S_ISBLK(image.stat().st_mode):
            return image.stat().st_size
        with image.open("rb") as stream:
            return stream.seek(0, os.SEEK_END)
    except OSError:
        return None


def is_squashfs(image: Path) -> bool:
    """The file starts with the squashfs superblock magic (little-endian "hsqs")."""
    try:
        with image.open("rb") as stream:
            return stream.read(4) == SQUASHFS_MAGIC
    except OSError:
        return False


def cat_member(image: Path, member: str) -> str | None:
    """The text of *member* (e.g. ``etc/os-release``) inside the squashfs; None when missing."""
    try:
        result = subprocess.run(
            ["unsquashfs", "-cat", str(image), member],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    return result.stdout.decode("utf-8", "replace") if result.returncode == 0 else None


def read_os_version(image: Path) -> str:
    """The OS version the image's os-release names, as the booted node will read it
    (stook_core.osrelease); "" when the image or the field is missing."""
    if image_size(image) is None:
        return ""
    text = cat_member(image, "etc/os-release") or cat_member(image, "usr/lib/os-release") or ""
    return os_release_version(parse_os_release(text)) or ""


class Copied(NamedTuple):
    length: int  # bytes copied
    sha256: str  # of those bytes, as read from the source while copying


@contextlib.contextmanager
def _open_direct(path: str, flags: int) -> Iterator[tuple[int, bool]]:
    """(fd, direct): O_DIRECT when the file system or device supports it (tmpfs does not:
    then plain I/O, and callers drop the cached pages themselves)."""
    try:
        fd, direct = os.open(path, flags | os.O_DIRECT), True
    except OSError:
        fd, direct = os.open(path, flags), False
    try:
        yield fd, direct
    finally:
        os.close(fd)


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        done = os.pwrite(fd, data, offset)
        data, offset = data[done:], offset + done


class _Blocks:
    """A reader thread that fills the free buffers from *source* in turn, hashing each block.

    ``next()`` gives (buffer index, length) in order, then None at the end; the writer hands a
    buffer back with ``done(index)`` once it is written, so a block is never overwritten
    before it reached the device."""

    def __init__(self, source: Path, buffers: list[mmap.mmap]) -> None:
        self.source, self.buffers = source, buffers
        self.free: queue.Queue[int] = queue.Queue()
        for index in range(len(buffers)):
            self.free.put(index)
        self.full: queue.Queue[tuple[int, int] | OSError | None] = queue.Queue()
        self.digest = hashlib.sha256()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="copy-image-reader", daemon=True)

    def _fill(self, stream: io.FileIO, buffer: mmap.mmap) -> int:
        length = 0
        view = memoryview(buffer)
        while length < len(buffer) and (got := stream.readinto(view[length:])):
            length += got
        return length

    def _run(self) -> None:
        try:
            with self.source.open("rb", buffering=0) as stream:
                with contextlib.suppress(OSError):
                    os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
                while not self.stopped.is_set():
                    index = self.free.get()
                    length = self._fill(stream, self.buffers[index])
                    if not length or self.stopped.is_set():
                        break
                    self.digest.update(memoryview(self.buffers[index])[:length])
                    self.full.put((index, length))
        except OSError as error:
            self.full.put(error)
            return
        self.full.put(None)

    def next(self) -> tuple[int, int] | None:
        item = self.full.get()
        if isinstance(item, OSError):
            raise item
        return item

    def done(self, index: int) -> None:
        self.free.put(index)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.stopped.set()
            self.free.put(0)  # wake a reader waiting for a buffer
            self.thread.join()


def copy_image(source: Path, device: str, progress: Progress) -> Copied:
    """Copy *source* to *device* (module docstring) and fsync; the length and SHA-256 of what
    was read, to compare with read_back_sha256 of the device."""
    total = image_size(source) or 0
    buffers = [mmap.mmap(-1, BLOCK) for _ in range(BUFFERS)]  # page-aligned
    blocks = _Blocks(source, buffers)
    done = 0
    try:
        with _open_direct(device, os.O_WRONLY) as (fd, direct):
            blocks.thread.start()
            while (item := blocks.next()) is not None:
                index, length = item
                data = memoryview(buffers[index])[:length]
                aligned = length - length % ALIGN if direct else length
                _write_all(fd, data[:aligned], done)
                if aligned < length:  # the image's unaligned tail: written without O_DIRECT
                    _write_tail(device, data[aligned:], done + aligned)
                blocks.done(index)
                done += length
                progress(done / total if total else 1.0, f"{done >> 20} of {total >> 20} MiB")
            os.fsync(fd)
    finally:
        blocks.stop()  # the buffers are freed with the last view of them
    return Copied(done, blocks.digest.hexdigest())


def _write_tail(device: str, data: memoryview, offset: int) -> None:
    fd = os.open(device, os.O_WRONLY)
    try:
        _write_all(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_back_sha256(device: str, length: int) -> str:
    """SHA-256 of the first *length* bytes of *device* as the medium returns them: read with
    O_DIRECT (or, where that is not supported, after dropping the cached pages): right after a
    write the page cache may still hold what was written, and hashing that proves nothing."""
    digest = hashlib.sha256()
    buffer = mmap.mmap(-1, BLOCK)  # page-aligned
    with _open_direct(device, os.O_RDONLY) as (fd, direct):
        if not direct:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        offset = 0
        while offset < length:
            want = min(BLOCK, -(-(length - offset) // ALIGN) * ALIGN)
            got = os.preadv(fd, [memoryview(buffer)[:want]], offset)
            if got <= 0:
                break
            digest.update(memoryview(buffer)[: min(got, length - offset)])
            offset += got
    return digest.hexdigest()


def sha256_prefix(path: Path, length: int) -> str:
    """SHA-256 of the first *length* bytes of a file (through the page cache)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        remaining = length
        while remaining > 0 and (chunk := stream.read(min(BLOCK, remaining))):
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()
