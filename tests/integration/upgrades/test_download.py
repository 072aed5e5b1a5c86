"""The node side's image download against a real HTTP server on 127.0.0.1: a download killed
mid-way (SIGKILL of the process doing it) resumes with a Range request from where the file
ends; a wrong checksum, an oversized or truncated body, a server that ignores ranges."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stook_agent.api.osversion import OSImage
from stook_agent.cli import parse_args
from stook_agent.upgrades.download import Downloader, DownloadError
from support.imageserver import ImageServer, serve_image
from support.tiers import require_commands, require_root
from support.tls import ca_signed

MiB = 1 << 20
DATA = os.urandom(3 * MiB + 12345)
WAIT = 60.0  # a bound for "eventually", never a performance claim


def image_for(server: ImageServer, data: bytes = DATA, **fields: object) -> OSImage:
    values: dict[str, object] = {
        "version": "2.0",
        "image_url": server.url,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    return OSImage.model_validate(values | fields)


def fetch(folder: Path, image: OSImage) -> tuple[Path, list[int]]:
    seen: list[int] = []
    stop = threading.Event()
    path = Downloader(folder).fetch(image, lambda done, _total: seen.append(done), stop)
    return path, seen


CHILD = """
import sys, threading
from pathlib import Path
from stook_agent.api.osversion import OSImage
from stook_agent.upgrades.download import Downloader
image = OSImage.model_validate_json(sys.argv[2])
Downloader(Path(sys.argv[1])).fetch(image, lambda done, total: None, threading.Event())
"""


def test_a_download_killed_midway_resumes_with_a_range_request(tmp_path: Path) -> None:
    with serve_image(ImageServer(DATA, hold_after=MiB)) as server:
        image = image_for(server)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), image.model_dump_json()],
            env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
        )
        part = tmp_path / f"{image.sha256}.part"
        deadline = time.monotonic() + WAIT
        while not (part.is_file() and part.stat().st_size >= MiB):
            assert child.poll() is None, "the downloading process ended early"
            assert time.monotonic() < deadline, "the first MiB never arrived"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        kept = part.stat().st_size
        assert MiB <= kept < len(DATA)
        server.hold_after = None
        server.release.set()

        path, progress = fetch(tmp_path, image)

    assert server.requests[-1]["Range"] == f"bytes={kept}-"
    assert server.sent[-1] == len(DATA) - kept  # only the rest went over the wire again
    assert path == tmp_path / f"{image.sha256}.img" and path.read_bytes() == DATA
    assert not part.exists()
    assert progress[0] > kept and progress[-1] == len(DATA)
    # Complete and verified: a second fetch sends no request at all.
    requests = len(server.requests)
    assert fetch(tmp_path, image)[0] == path and len(server.requests) == requests


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    with serve_image(ImageServer(DATA)) as server:
        image = image_for(server, sha256="0" * 64)
        with pytest.raises(DownloadError) as error:
            fetch(tmp_path, image)
    assert error.value.final
    assert f"not the {'0' * 64} of the OSVersion" in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_body_larger_than_the_declared_size_is_refused(tmp_path: Path) -> None:
    with serve_image(ImageServer(DATA)) as server:
        image = image_for(server, size=MiB)
        with pytest.raises(DownloadError) as error:
            fetch(tmp_path, image)
    assert error.value.final and f"more than the {MiB} of the OSVersion" in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_server_ignoring_ranges_starts_over_and_the_result_is_right(tmp_path: Path) -> None:
    with serve_image(ImageServer(DATA, honour_ranges=False)) as server:
        image = image_for(server)
        (tmp_path / f"{image.sha256}.part").write_bytes(b"\0" * MiB)  # a stale, wrong part
        path, _ = fetch(tmp_path, image)
    assert server.requests[-1]["Range"] == f"bytes={MiB}-" and server.sent[-1] == len(DATA)
    assert path.read_bytes() == DATA


def test_other_downloads_are_pruned_and_missing_images_say_so(tmp_path: Path) -> None:
    stale = tmp_path / f"{'1' * 64}.img"
    stale.write_bytes(b"old image")
    with serve_image(ImageServer(DATA)) as server:
        missing = f"http://127.0.0.1:{server.port}/missing.img?token=s3cret"
        with pytest.raises(DownloadError) as error:
            fetch(tmp_path, image_for(server, image_url=missing))
    assert "HTTP 404" in str(error.value) and error.value.final
    assert "s3cret" not in str(error.value)
    assert not stale.exists()


def test_an_https_image_behind_a_private_ca_needs_that_ca(tmp_path: Path) -> None:
    """The agent's --upgrade-ca-file: with the server's CA the download goes through; without
    it (the system's CAs) the TLS failure is final, nothing is kept."""
    ca, cert, key = ca_signed(tmp_path, ip="127.0.0.1")
    with serve_image(ImageServer(DATA, tls=(cert, key))) as server:
        image = image_for(server)
        with pytest.raises(DownloadError) as refused:
            fetch(tmp_path / "system-cas", image)
        assert refused.value.final and (
            "the TLS certificate does not verify (unable to get local issuer certificate); "
            "a private CA? give stook-agent --upgrade-ca-file its certificate"
        ) in str(refused.value)
        path = Downloader(tmp_path / "private-ca", ca_file=str(ca)).fetch(
            image, lambda _done, _total: None, threading.Event()
        )
        assert path.read_bytes() == DATA


def test_the_agent_refuses_an_unreadable_ca_file_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--upgrade-ca-file", str(tmp_path / "missing.pem")])
    assert exit_.value.code == 2
    assert "--upgrade-ca-file: cannot read" in capsys.readouterr().err
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(SystemExit):
        parse_args(["--upgrade-ca-file", str(tmp_path / "empty.pem")])
    error = capsys.readouterr().err
    assert f"--upgrade-ca-file: {tmp_path / 'empty.pem'} holds no usable CA certificate" in error
    ca, _, _ = ca_signed(tmp_path, ip="127.0.0.1")
    assert parse_args(["--upgrade-ca-file", str(ca)]).upgrade_ca_file == str(ca)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A real small filesystem mounted at *folder* (unmounted afterwards, whatever happens)."""
    require_root()
    require_commands("mount", "umount")
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


def test_the_download_folder_must_be_an_absolute_folder_on_a_writable_filesystem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """stook-agent --upgrade-downloads: refused at start naming the option and the rule."""
    (tmp_path / "a-file").write_text("")
    refused = {
        "upgrades": "upgrades is not an absolute path",
        str(tmp_path / "a-file"): f"{tmp_path / 'a-file'} is not a folder",
        str(tmp_path / "a-file" / "x"): f"{tmp_path / 'a-file'} (on the way to",
    }
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        refused[str(read_only / "upgrades")] = f"{read_only} is not writable"
        for value, words in refused.items():
            with pytest.raises(SystemExit) as exit_:
                parse_args(["--upgrade-downloads", value])
            assert exit_.value.code == 2
            assert f"--upgrade-downloads: {words}" in capsys.readouterr().err, value
    later = tmp_path / "not" / "yet"  # made by the first download
    assert parse_args(["--upgrade-downloads", str(later)]).upgrade_downloads == later
    assert parse_args([]).upgrade_downloads == Path("/var/lib/stook/upgrades")


def test_an_image_larger_than_the_folders_free_space_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    """The node-side pre-flight: the configured folder's filesystem (a 1 MiB tmpfs) cannot
    hold the 3 MiB image: nothing is asked of the server, nothing written, the folder named."""
    with tmpfs(tmp_path / "small", "1m") as small, serve_image(ImageServer(DATA)) as server:
        folder = small / "upgrades"
        with pytest.raises(DownloadError) as error:
            fetch(folder, image_for(server))
        assert f"not enough space in {folder}: the image needs {len(DATA)} more bytes" in str(
            error.value
        )
        assert "give stook-agent --upgrade-downloads another folder" in str(error.value)
        assert not error.value.final  # freeing space there and the next attempt goes on
        assert server.requests == [] and not folder.exists()
