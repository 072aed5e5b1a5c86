"""The pre-check that the image is there: a GET (with a timeout, reading nothing but the
headers) must answer 200 or 206 with the OSVersion's size. The SHA-256 is verified by each
node on what it downloads (reading gigabytes here would double the traffic)."""

from __future__ import annotations

import re

import urllib3

from stook_agent.api.osversion import OSImage
from stook_agent.upgrades.download import shown

TOTAL = re.compile(r"/(\d+)$")


def image_problem(image: OSImage, timeout: float = 10.0, ca_file: str | None = None) -> str:
    """ "" when the image answers with the right size, else what is wrong."""
    url = shown(image.image_url)
    pool = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=urllib3.Retry(total=0, redirect=5, raise_on_redirect=True),
        ca_certs=ca_file,
    )
    try:
        response = pool.request(
            "GET", image.image_url, headers={"Range": "bytes=0-0"}, preload_content=False
        )
    except urllib3.exceptions.HTTPError as error:
        reason = getattr(error, "reason", None) or error
        return f"{url} is not reachable: {type(reason).__name__}"
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
