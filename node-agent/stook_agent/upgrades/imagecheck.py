"""The pre-check that the image is there: a GET (with a timeout, reading nothing but the
headers) must answer 200 or 206 with the OSVersion's size. The SHA-256 is verified by each
node on what it downloads (reading gigabytes here would double the traffic)."""

from __future__ import annotations

import re

import urllib3

from stook_agent.api.osversion import OSImage
from stook_agent.upgrades.download import shown
from stook_agent.upgrades.imagehttp import (
    UNTRUSTED_HINT,
    CaFileError,
    failure,
    image_pool,
    untrusted,
)

TOTAL = re.compile(r"/(\d+)$")


def image_problem(image: OSImage, timeout: float = 10.0, ca_file: str | None = None) -> str:
    """ "" when the image answers with the right size, else what is wrong. *ca_file*: the CA
    certificates HTTPS is verified with (the nodes' ``--upgrade-ca-file``; None: the system's)."""
    url = shown(image.image_url)
    try:
        pool = image_pool(timeout, timeout, ca_file)
    except CaFileError as error:
        return f"{url} cannot be checked: {error}"
    try:
        response = pool.request(
            "GET", image.image_url, headers={"Range": "bytes=0-0"}, preload_content=False
        )
    except urllib3.exceptions.HTTPError as error:
        if (why := untrusted(error)) is not None:
            trust = f"the CA file {ca_file}" if ca_file else "the system's CAs"
            return (
                f"{url} is not trusted: its TLS certificate does not verify against {trust} "
                f"({why}); {UNTRUSTED_HINT}"
            )
        return f"{url} is not reachable: {failure(error)}"
    try:
        if response.status == 206:
            match = TOTAL.search(response.headers.get("Content-Range", ""))
            size = int(match.group(1)) if match else None
        elif response.status == 200:
            length = response.headers.get("Content-Length", "")
            size = int(length) if length.isdigit() else None
        else:
            return f"{url} answers HTTP {response.status} {response.reason}"
    finally:
        response.release_conn()
        pool.clear()
    if size is None:
        return f"{url} does not say its size (no Content-Length or Content-Range)"
    if size != image.size:
        return f"{url} has {size} bytes, the OSVersion says {image.size}"
    return ""
