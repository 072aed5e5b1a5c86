"""OSVersion: one OS image on offer for upgrades (docs/upgrades.md).

Cluster-scoped, written by an operator (or a release feed), read by the upgrade controller and
by every node's agent. Field names follow Harvester's Version (reference.md section 10); the
checksum is SHA-256, the one ``stook-os write-slot`` verifies.
"""

from __future__ import annotations

from pydantic import Field

from stook_agent.api.meta import ApiModel, Int64, Kind, PrinterColumn, StookObject
from stook_core.boot.slots import VERSION_RE

# http(s) only, and no user:password@ in the authority: a credential in an image URL would end
# up in every status, event and log line that names the URL.
URL_PATTERN = r"^https?://[^/@\s]+(/\S*)?$"
VERSION_PATTERN = VERSION_RE.pattern


class OSImage(ApiModel):
    """Where an OS image is and what it must be."""

    version: str = Field(min_length=1, max_length=64, pattern=VERSION_PATTERN)
    """The OS version the image carries (its os-release VERSION), as the boot environment
    records it."""
    image_url: str = Field(alias="imageURL", max_length=2048, pattern=URL_PATTERN)
    """The squashfs OS image, over http or https (no credentials in the URL)."""
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    """Its SHA-256 (lowercase hex); a node refuses an image with any other."""
    size: Int64 = Field(ge=1)
    """Its size in bytes; a node stops a download that grows beyond it."""


class OSVersionSpec(OSImage):
    release_notes_url: str | None = Field(
        None, alias="releaseNotesURL", max_length=2048, pattern=URL_PATTERN
    )
    """Where people read what changed."""
    min_upgradable_version: str | None = Field(None, max_length=64, pattern=VERSION_PATTERN)
    """The oldest OS version that may upgrade to this one directly (none: any older one)."""

    def image(self) -> OSImage:
        return OSImage(
            version=self.version, image_url=self.image_url, sha256=self.sha256, size=self.size
        )


class OSVersion(StookObject):
    """An OS version on offer: its image, checksum, size and the oldest version it upgrades."""

    KIND = Kind(
        kind="OSVersion",
        plural="osversions",
        short_names=("osv",),
        description=(
            "OSVersion: one OS image on offer for upgrades (version, image URL, SHA-256, size,\n"
            "release notes, the oldest version it upgrades from). Cluster-scoped; an Upgrade "
            "names one."
        ),
        printer_columns=(
            PrinterColumn("Version", "string", ".spec.version"),
            PrinterColumn("Size", "integer", ".spec.size", "bytes"),
            PrinterColumn("From", "string", ".spec.minUpgradableVersion", "oldest version"),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
            PrinterColumn("Image", "string", ".spec.imageURL", priority=1),
        ),
        status_subresource=False,
    )

    spec: OSVersionSpec
