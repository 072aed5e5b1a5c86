"""Download an OS image over HTTP(S): resumable, capped at its declared size, SHA-256 checked.

The bytes go to ``<dir>/<sha256>.part`` and, once complete and verified, are renamed to
``<dir>/<sha256>.img``. A download that stops (agent restart, network cut, power loss) resumes
from the part's length with ``Range: bytes=<n>-``; a server that ignores the range (200) makes
it start over, a ``Content-Range`` that does not continue the part is refused. Images of other
checksums in the folder are removed first (stale downloads must not fill the state partition).
Every request has a connect and a read timeout; the URL is never logged with a query string.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import urllib3

from stook_agent.api.osversion import OSImage
from stook_agent.upgrades.imagehttp import (
    UNTRUSTED_HINT,
    CaFileError,
    failure,
    image_pool,
    untrusted,
)

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

CHUNK = 1 << 20
DOWNLOADS = Path("/var/lib/stook/upgrades")  # on the state partition (--upgrade-downloads)
FOLDER_OPTION = "--upgrade-downloads"
Progress = Callable[[int, int], None]  # (bytes so far, total)
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class DownloadError(Exception):
    """The download failed; ``final`` when retrying the same request cannot help."""

    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class Stopped(Exception):  # noqa: N818 - a request to stop, not an error
    """The caller asked the download to stop; the part file is kept for a resume."""


def shown(url: str) -> str:
    """The URL as messages show it: scheme, host and path (no query, which may carry a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?..." if parts.query else "")


def folder_problem(folder: Path) -> str:
    """ "" when *folder* can hold downloads, else why not: it must be an absolute path, a folder
    (or not there yet: it is made), on a writable filesystem. Its free space is checked against
    each image before its download (``Downloader.fetch``) and by the controller's Space check."""
    if not folder.is_absolute():
        return f"{folder} is not an absolute path"
    if folder.exists() and not folder.is_dir():
        return f"{folder} is not a folder"
    existing = _existing(folder)
    if not existing.is_dir():
        return f"{existing} (on the way to {folder}) is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable (a read-only filesystem?)"
    return ""


def _existing(folder: Path) -> Path:
    """*folder*, or its nearest ancestor that exists (what holds it once it is made)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


@dataclass(frozen=True)
class Downloader:
    folder: Path
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    ca_file: str | None = None

    def final_path(self, image: OSImage) -> Path:
        return self.folder / f"{image.sha256}.img"

    def part_path(self, image: OSImage) -> Path:
        return self.folder / f"{image.sha256}.part"

    def free_bytes(self) -> int:
        """Free bytes for downloads (of the folder's filesystem, before it exists)."""
        fs = os.statvfs(_existing(self.folder))
        return fs.f_bavail * fs.f_frsize

    def prune(self, keep: OSImage | None) -> None:
        """Remove downloads other than *keep*'s."""
        if not self.folder.is_dir():
            return
        wanted = {self.final_path(keep).name, self.part_path(keep).name} if keep else set()
        for path in self.folder.iterdir():
            if path.suffix in (".img", ".part") and path.name not in wanted:
                path.unlink(missing_ok=True)

    def fetch(self, image: OSImage, progress: Progress, stop: threading.Event) -> Path:
        """The verified image file, downloading (or resuming) it first when needed."""
        final = self.final_path(image)
        if final.is_file() and final.stat().st_size == image.size:
            return final  # verified before it was renamed
        self.prune(image)
        part = self.part_path(image)
        have = part.stat().st_size if part.is_file() else 0
        if have > image.size:
            part.unlink()
            have = 0
        needed = image.size - have
        free = self.free_bytes()
        if free < needed:  # before anything is asked or written: nothing to undo
            raise DownloadError(
                f"not enough space in {self.folder}: the image needs {needed} more bytes, "
                f"{free} are free; free space there or give stook-agent {FOLDER_OPTION} "
                "another folder"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = _hash_file(part, have, stop) if have else hashlib.sha256()
        have, digest = self._get(image, part, have, digest, progress, stop)
        if have != image.size:
            raise DownloadError(
                f"{shown(image.image_url)} ended after {have} of {image.size} bytes; resuming"
            )
        actual = digest.hexdigest()
        if actual != image.sha256:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{shown(image.image_url)} has SHA-256 {actual}, not the {image.sha256} of the "
                "OSVersion: the image is not the one on offer (fix the OSVersion or the server); "
                "refused, nothing written",
                final=True,
            )
        part.replace(final)
        return final

    def _get(
        self,
        image: OSImage,
        part: Path,
        have: int,
        digest: Hash,
        progress: Progress,
        stop: threading.Event,
    ) -> tuple[int, Hash]:
        """Append the rest of the image to *part*; the length and the digest of all of it."""
        url = shown(image.image_url)
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            pool = image_pool(self.connect_timeout, self.read_timeout, self.ca_file)
        except CaFileError as error:
            raise DownloadError(f"GET {url}: {error}", final=True) from None
        try:
            response = pool.request(
                "GET", image.image_url, headers=headers, preload_content=False, decode_content=False
            )
        except urllib3.exceptions.HTTPError as error:
            # An untrusted certificate does not become trusted by retrying: final (the
            # operator gives the agent the CA: --upgrade-ca-file, then retries the upgrade).
            if (why := untrusted(error)) is not None:
                message = f"GET {url} failed: the TLS certificate does not verify ({why}); "
                raise DownloadError(message + UNTRUSTED_HINT, final=True) from None
            raise DownloadError(f"GET {url} failed: {failure(error)}") from None
        try:
            if response.status == 416 and have == image.size:
                return have, digest  # complete already; the checksum decides
            if response.status == 200 and have:
                have, digest = 0, hashlib.sha256()  # the server ignored the range: start over
            elif response.status == 206:
                _check_range(response.headers.get("Content-Range", ""), have, image.size, url)
            elif response.status != 200:
                final = 400 <= response.status < 500 and response.status not in (408, 429)
                raise DownloadError(f"GET {url}: HTTP {response.status} {response.reason}", final)
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and have + int(length) > image.size:
                raise DownloadError(
                    f"GET {url}: the server sends {have + int(length)} bytes, more than the "
                    f"{image.size} of the OSVersion; refused",
                    final=True,
                )
            with part.open("r+b" if have else "wb") as out:
                out.seek(have)
                out.truncate()
                try:
                    for chunk in response.stream(CHUNK):
                        if stop.is_set():
                            raise Stopped()
                        have += len(chunk)
                        if have > image.size:
                            raise DownloadError(
                                f"GET {url}: more than the {image.size} bytes of the OSVersion; "
                                "refused",
                                final=True,
                            )
                        out.write(chunk)
                        digest.update(chunk)
                        progress(have, image.size)
                except urllib3.exceptions.HTTPError as error:
                    raise DownloadError(
                        f"GET {url} broke off after {have} bytes: {failure(error)}"
                    ) from None
                finally:
                    out.flush()
                    os.fsync(out.fileno())
            return have, digest
        except DownloadError as error:
            if error.final:
                part.unlink(missing_ok=True)
            raise
        finally:
            response.release_conn()
            pool.clear()


def _check_range(header: str, have: int, size: int, url: str) -> None:
    match = CONTENT_RANGE.match(header.strip())
    if not match or int(match.group(1)) != have:
        raise DownloadError(f"GET {url}: Content-Range {header!r} does not continue at {have}")
    total = match.group(3)
    if total != "*" and int(total) != size:
        raise DownloadError(
            f"GET {url}: the server's image has {total} bytes, not the {size} of the OSVersion",
            final=True,
        )


def _hash_file(path: Path, length: int, stop: threading.Event) -> Hash:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        left = length
        while left:
            if stop.is_set():
                raise Stopped()
            block = source.read(min(CHUNK * 8, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest
