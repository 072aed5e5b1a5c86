"""What a machine has: disks and NICs, probed for real or loaded from a machine profile.

One model for both doors: ``probe()`` reads the running machine (pyudev for udev properties
when udev runs, sysfs and ``blkid`` otherwise, so it also works on a host without udev and on
loop devices); ``load_profile(path)`` reads a JSON profile, the named test double used by dry
runs and unit tests. The node agent's disk controller reuses ``Disk`` for disk identity.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stook_core.layout import OS_LABELS
from stook_core.net.permaddr import ethtool_permanent_mac, netlink_permanent_macs
from stook_core.units import binary_size

SYS_BLOCK = Path("/sys/class/block")
SYS_NET = Path("/sys/class/net")
SECTOR = 512
# Where live-boot mounts the medium the live system booted from (ISO, USB stick).
LIVE_MOUNT = "/run/live/medium"
# The volume id build-iso.sh gives a Stook ISO: STOOK_<version>.
LIVE_LABEL_PREFIX = "STOOK_"
LIVE_REASON = "the live medium the installer booted from"
# Block devices that are never install targets.
_SKIP_DISKS = re.compile(r"^(loop|ram|zram|sr|fd|md|dm-|nbd)")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Partition(Frozen):
    number: int
    path: str = Field(description="/dev/sda1, /dev/nvme0n1p1, /dev/loop0p1")
    size: int = Field(description="bytes")
    label: str | None = Field(None, description="GPT partition name (PARTLABEL)")
    fs_label: str | None = None
    fstype: str | None = None
    fs_uuid: str | None = None
    part_uuid: str | None = Field(None, description="GPT partition UUID (PARTUUID)")
    mountpoints: list[str] = Field(default_factory=list, description="as this process sees them")
    holders: list[str] = Field(default_factory=list, description="dm/md devices built on it")
    swap: bool = Field(False, description="an active swap area (/proc/swaps)")


class Disk(Frozen):
    name: str = Field(description="kernel name: sda, nvme0n1, loop3")
    path: str
    size: int = Field(description="bytes")
    model: str | None = None
    vendor: str | None = None
    serial: str | None = None
    wwn: str | None = None
    bus: str | None = Field(None, description="ata, nvme, scsi, usb, virtio, loop, ...")
    by_id: list[str] = Field(default_factory=list, description="/dev/disk/by-id links")
    by_path: list[str] = Field(default_factory=list, description="/dev/disk/by-path links")
    rotational: bool = False
    removable: bool = False
    read_only: bool = False
    fstype: str | None = Field(None, description="a filesystem on the whole disk")
    fs_label: str | None = None
    fs_uuid: str | None = None
    partitions: list[Partition] = Field(default_factory=list)
    bus_path: str | None = Field(None, description="udev ID_PATH, else the sysfs device path")
    pt_type: str | None = Field(None, description="partition table type: gpt, dos")
    pt_uuid: str | None = Field(None, description="partition table UUID")
    backing_file: str | None = Field(None, description="a loop device's backing file")
    dm_uuid: str | None = Field(None, description="device-mapper UUID (mpath-... for multipath)")
    slaves: list[str] = Field(default_factory=list, description="devices a dm/md device is on")
    holders: list[str] = Field(default_factory=list, description="dm/md devices built on it")
    mountpoints: list[str] = Field(default_factory=list, description="as this process sees them")
    swap: bool = Field(False, description="an active swap area (/proc/swaps)")
    live_medium: bool = Field(
        False, description="the medium the running live system (the installer) booted from"
    )

    @property
    def kind(self) -> str:
        """``multipath``, ``dm``, ``loop``, ``ram``, ... or ``disk`` (a plain disk)."""
        if self.name.startswith("dm-"):
            return "multipath" if (self.dm_uuid or "").startswith("mpath-") else "dm"
        match = re.match(r"^(loop|ram|zram|fd|sr|md|nbd)\d", self.name)
        return match.group(1) if match else "disk"

    @property
    def holds_data(self) -> list[str]:
        """What on the disk looks like data: a filesystem, a partition table, partitions."""
        found = [f"a {self.fstype} filesystem"] if self.fstype else []
        if self.pt_type:
            found.append(f"a {self.pt_type} partition table")
        found += [f"partition {p.path} ({p.fstype or 'no filesystem'})" for p in self.partitions]
        return found

    @property
    def in_use(self) -> list[str]:
        """Why the disk is busy: the live medium, mount points, holders (LVM, MD, dm) and
        swap of the disk or its partitions."""
        reasons = [LIVE_REASON] if self.live_medium else []
        reasons += [f"mounted at {m}" for m in self.mountpoints]
        reasons += [f"held by {h}" for h in self.holders]
        reasons += ["an active swap area"] if self.swap else []
        for part in self.partitions:
            reasons += [f"{part.path} mounted at {m}" for m in part.mountpoints]
            reasons += [f"{part.path} held by {h}" for h in part.holders]
            reasons += [f"{part.path} is an active swap area"] if part.swap else []
        return reasons

    @property
    def busy(self) -> str | None:
        """Why this disk can never be erased or installed to, one sentence naming it
        (``/dev/sdb is the live medium the installer booted from``); None when it can be."""
        if self.live_medium:
            return f"{self.path} is {LIVE_REASON}"
        reasons = self.in_use
        return f"{self.path} is in use ({'; '.join(reasons)})" if reasons else None

    @property
    def has_stook_install(self) -> bool:
        """True when a partition or whole-disk filesystem carries a Stook label."""
        labels = {self.fs_label} | {p.label for p in self.partitions}
        labels |= {p.fs_label for p in self.partitions}
        return bool(labels & OS_LABELS)

    @property
    def links(self) -> list[str]:
        return [*self.by_id, *self.by_path]

    def partition_path(self, number: int) -> str:
        """The device node of partition *number* (``nvme0n1`` and ``loop0`` take a ``p``)."""
        separator = "p" if self.name[-1].isdigit() else ""
        return f"{self.path}{separator}{number}"

    def owns(self, device: str) -> bool:
        """True when *device* is this disk, one of its links, or one of its partitions."""
        if device == self.path or device in self.links:
            return True
        prefix = self.path + ("p" if self.name[-1].isdigit() else "")
        return device.startswith(prefix) and device[len(prefix) :].isdigit()

    def summary(self) -> str:
        """One line an operator recognises the disk by: binary size, then the label's."""
        words = [self.path, f"{binary_size(self.size)} ({human_size(self.size)})"]
        words += [w for w in (self.vendor, self.model) if w]
        if self.serial:
            words.append(f"serial {self.serial}")
        if self.has_stook_install:
            words.append("(holds a Stook install)")
        elif self.partitions:
            words.append(f"({len(self.partitions)} partitions)")
        return " ".join(words)


def human_size(size: int) -> str:
    """Decimal units, as on a disk's label: 480 GB, 4 TB, 1.92 TB."""
    for unit, name in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB")):
        if size >= unit:
            return f"{size / unit:.3g} {name}"
    return f"{size} B"


class Nic(Frozen):
    name: str
    mac: str = Field(description="the current address (a bond port's is the bond's)")
    permanent_mac: str | None = Field(
        None, description="the burnt-in address (netlink, else ethtool); None: none reported"
    )
    driver: str | None = None
    link_up: bool = False
    speed_mbps: int | None = None

    @property
    def identity_mac(self) -> str:
        """The MAC that names this NIC: the permanent one, else (none reported) the current."""
        return self.permanent_mac or self.mac.lower()


class Machine(Frozen):
    """A machine as the installer sees it. ``description`` names a profile's origin."""

    description: str = ""
    firmware: Literal["uefi", "bios"] = "uefi"
    disks: list[Disk] = Field(default_factory=list)
    nics: list[Nic] = Field(default_factory=list)

    def disk(self, path: str) -> Disk | None:
        return next((d for d in self.disks if d.path == path or path in d.links), None)


def load_profile(path: Path | str) -> Machine:
    """A machine profile (JSON, the shape of ``Machine``)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Machine.model_validate(data)


def dump_profile(machine: Machine) -> str:
    return machine.model_dump_json(indent=2) + "\n"


# --- probing the running machine ----------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def _blkid(device: str) -> dict[str, str]:
    """Low-level blkid probe (reads the device itself, so it works without udev)."""
    try:
        result = subprocess.run(
            ["blkid", "-p", "-o", "export", device],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return {}
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def _udev_properties(name: str) -> dict[str, str]:
    """udev's properties of a block device, empty when pyudev or the udev database is absent."""
    try:
        import pyudev
    except ImportError:
        return {}
    try:
        device = pyudev.Devices.from_name(pyudev.Context(), "block", name)
    except Exception:  # pyudev raises several types for a missing device
        return {}
    return {str(k): str(v) for k, v in device.properties.items()}


def _links(prefix: str, name: str) -> list[str]:
    """/dev/disk/by-<kind> links that point at *name*."""
    folder = Path("/dev/disk") / prefix
    found = []
    with contextlib.suppress(OSError):
        for link in sorted(folder.iterdir()):
            if Path(os.path.realpath(link)).name == name:
                found.append(str(link))
    return found


def _bus(name: str, sys: Path, udev: dict[str, str]) -> str | None:
    if name.startswith("loop"):
        return "loop"
    if name.startswith("nvme"):
        return "nvme"
    if udev.get("ID_BUS"):
        return udev["ID_BUS"]
    real = os.path.realpath(sys)
    for bus in ("usb", "virtio", "ata", "scsi"):
        if f"/{bus}" in real:
            return bus
    return None


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def read_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> dict[str, list[str]]:
    """Mount points by device number ("8:16") and by source device ("/dev/sdb1"), from
    mountinfo (octal escapes decoded). The source matters for btrfs, whose mounts carry an
    anonymous device number."""
    found: dict[str, list[str]] = {}
    with contextlib.suppress(OSError):
        for line in mountinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split()
            if len(fields) <= 4:
                continue
            point = _unescape(fields[4])
            keys = [fields[2]]
            if " - " in line:
                after = line.split(" - ", 1)[1].split()
                if len(after) > 1 and after[1].startswith("/dev/"):
                    keys.append(_device_key(_unescape(after[1])))
            for key in dict.fromkeys(keys):
                points = found.setdefault(key, [])
                if point not in points:
                    points.append(point)
    return found


def _device_key(device: str) -> str:
    """``/dev/<kernel name>`` of a device node or a link to one (``/dev/mapper/x`` -> dm-0)."""
    return f"/dev/{Path(os.path.realpath(device)).name}"


def read_swaps(swaps: Path = Path("/proc/swaps")) -> frozenset[str]:
    """Kernel names of the block devices that are active swap areas (swap files left out)."""
    found = set()
    with contextlib.suppress(OSError):
        for line in swaps.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
            fields = line.split()
            if fields and fields[0].startswith("/dev/"):
                found.add(Path(_device_key(_unescape(fields[0]))).name)
    return frozenset(found)


def _mounts_of(sys: Path, mounts: dict[str, list[str]]) -> list[str]:
    by_number = mounts.get(_read(sys / "dev") or "", [])
    by_source = mounts.get(f"/dev/{sys.name}", [])
    return list(dict.fromkeys([*by_number, *by_source]))


def _names(folder: Path) -> list[str]:
    with contextlib.suppress(OSError):
        return sorted(p.name for p in folder.iterdir())
    return []


def _partition(
    sys: Path, number: int, mounts: dict[str, list[str]], swaps: frozenset[str]
) -> Partition:
    path = f"/dev/{sys.name}"
    udev = _udev_properties(sys.name)
    probed = udev if "ID_PART_ENTRY_NUMBER" in udev else _blkid(path)
    size = int(_read(sys / "size") or 0) * SECTOR
    return Partition(
        number=number,
        path=path,
        size=size,
        label=probed.get("ID_PART_ENTRY_NAME") or probed.get("PART_ENTRY_NAME"),
        fs_label=probed.get("ID_FS_LABEL") or probed.get("LABEL"),
        fstype=probed.get("ID_FS_TYPE") or probed.get("TYPE"),
        fs_uuid=probed.get("ID_FS_UUID") or probed.get("UUID"),
        part_uuid=probed.get("ID_PART_ENTRY_UUID") or probed.get("PART_ENTRY_UUID"),
        mountpoints=_mounts_of(sys, mounts),
        holders=_names(sys / "holders"),
        swap=sys.name in swaps,
    )


def _bus_path(sys: Path, udev: dict[str, str]) -> str | None:
    if udev.get("ID_PATH"):
        return udev["ID_PATH"]
    device = sys / "device"
    if not device.exists():
        return None
    real = os.path.realpath(device)
    return real.removeprefix("/sys/devices/") or None


def probe_disk(
    name: str, mounts: dict[str, list[str]] | None = None, swaps: frozenset[str] | None = None
) -> Disk:
    """One block device by kernel name (``sda``, ``loop3``), from sysfs, udev and blkid.
    *mounts* (from ``read_mounts``) and *swaps* (``read_swaps``) say what uses it; read
    afresh when not given. A disk that has ``LIVE_MOUNT`` mounted is the live medium."""
    sys = SYS_BLOCK / name
    if not sys.exists():
        raise FileNotFoundError(f"no block device {name} in {SYS_BLOCK}")
    mounts = read_mounts() if mounts is None else mounts
    swaps = read_swaps() if swaps is None else swaps
    udev = _udev_properties(name)
    device = sys / "device"
    partitions = []
    for child in sorted(sys.iterdir()):
        number = _read(child / "partition")
        if number is not None:
            partitions.append(_partition(child, int(number), mounts, swaps))
    partitions.sort(key=lambda p: p.number)
    whole = _blkid(f"/dev/{name}")
    if partitions:  # the whole-disk probe then describes the partition table only
        whole = {k: v for k, v in whole.items() if k.startswith("PT")}
    wwn = udev.get("ID_WWN") or _read(device / "wwid") or _read(sys / "wwid")
    mountpoints = _mounts_of(sys, mounts)
    points = [*mountpoints, *(m for p in partitions for m in p.mountpoints)]
    return Disk(
        name=name,
        path=f"/dev/{name}",
        size=int(_read(sys / "size") or 0) * SECTOR,
        model=udev.get("ID_MODEL") or _read(device / "model"),
        vendor=udev.get("ID_VENDOR") or _read(device / "vendor"),
        # virtio-blk has its serial on the block device, not its parent (and udev gives it
        # only as ID_SERIAL there)
        serial=udev.get("ID_SERIAL_SHORT") or _read(device / "serial") or _read(sys / "serial"),
        wwn=wwn,
        bus=_bus(name, sys, udev),
        by_id=_links("by-id", name),
        by_path=_links("by-path", name),
        rotational=_read(sys / "queue" / "rotational") == "1",
        removable=_read(sys / "removable") == "1",
        read_only=_read(sys / "ro") == "1",
        fstype=whole.get("TYPE"),
        fs_label=whole.get("LABEL"),
        fs_uuid=whole.get("UUID"),
        partitions=partitions,
        bus_path=_bus_path(sys, udev),
        pt_type=udev.get("ID_PART_TABLE_TYPE") or whole.get("PTTYPE"),
        pt_uuid=udev.get("ID_PART_TABLE_UUID") or whole.get("PTUUID"),
        backing_file=_read(sys / "loop" / "backing_file"),
        dm_uuid=_read(sys / "dm" / "uuid"),
        slaves=_names(sys / "slaves"),
        holders=_names(sys / "holders"),
        mountpoints=mountpoints,
        swap=name in swaps,
        live_medium=any(_under(point, LIVE_MOUNT) for point in points),
    )


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def booted_live(cmdline: Path = Path("/proc/cmdline")) -> bool:
    """True when the running system is a live system (live-boot's ``boot=live``)."""
    return "boot=live" in (_read(cmdline) or "").split()


def _carries_stook_iso(disk: Disk) -> bool:
    filesystems = [(disk.fstype, disk.fs_label)]
    filesystems += [(p.fstype, p.fs_label) for p in disk.partitions]
    return any(
        fstype == "iso9660" and (label or "").startswith(LIVE_LABEL_PREFIX)
        for fstype, label in filesystems
    )


def mark_live_medium(disks: list[Disk], live: bool) -> list[Disk]:
    """On a live system whose medium is no longer mounted (``toram``), every disk carrying a
    Stook ISO counts as the live medium: the one booted from cannot be told apart."""
    if not live or any(d.live_medium for d in disks):
        return disks
    return [
        d.model_copy(update={"live_medium": True}) if _carries_stook_iso(d) else d for d in disks
    ]


def _is_disk(sys: Path) -> bool:
    return not (sys / "partition").exists() and int(_read(sys / "size") or 0) > 0


def block_names() -> list[str]:
    """Kernel names of every whole block device with a size (partitions left out)."""
    found = []
    with contextlib.suppress(OSError):
        for sys in sorted(SYS_BLOCK.iterdir()):
            if _is_disk(sys):
                found.append(sys.name)
    return found


def probe_disks(names: Iterable[str] | None = None) -> list[Disk]:
    """The machine's disks; with *names* exactly those block devices (loop devices included)."""
    mounts, swaps = read_mounts(), read_swaps()
    if names is not None:
        return [probe_disk(Path(name).name, mounts, swaps) for name in names]
    found = []
    with contextlib.suppress(OSError):
        for sys in sorted(SYS_BLOCK.iterdir()):
            if not _SKIP_DISKS.match(sys.name) and _is_disk(sys):
                found.append(probe_disk(sys.name, mounts, swaps))
    return mark_live_medium(found, booted_live())


def _speed(sys: Path) -> int | None:
    value = _read(sys / "speed")  # EINVAL (None here) while the link is down
    return int(value) if value and value.lstrip("-").isdigit() and int(value) > 0 else None


def probe_nic(name: str, permanent: dict[str, str] | None = None) -> Nic:
    """One interface from sysfs; its permanent MAC from *permanent* (netlink's, read afresh
    when not given), else ``ethtool -P``."""
    sys = SYS_NET / name
    driver = sys / "device" / "driver"
    permanent = netlink_permanent_macs() if permanent is None else permanent
    return Nic(
        name=name,
        mac=(_read(sys / "address") or "").lower(),
        permanent_mac=permanent.get(name) or ethtool_permanent_mac(name),
        driver=Path(os.path.realpath(driver)).name if driver.exists() else None,
        link_up=_read(sys / "carrier") == "1",
        speed_mbps=_speed(sys),
    )


def probe_nics() -> list[Nic]:
    """Physical NICs: interfaces backed by a device (not lo, bridges, bonds, veths, ...)."""
    found = []
    permanent = netlink_permanent_macs()
    with contextlib.suppress(OSError):
        for sys in sorted(SYS_NET.iterdir()):
            if (sys / "device").exists():
                found.append(probe_nic(sys.name, permanent))
    return found


def firmware() -> Literal["uefi", "bios"]:
    return "uefi" if Path("/sys/firmware/efi").exists() else "bios"


def probe(disks: Sequence[str] | None = None, description: str = "probed") -> Machine:
    """The running machine. *disks* restricts (and allows loop devices as) the disks probed."""
    return Machine(
        description=description,
        firmware=firmware(),
        disks=probe_disks(disks),
        nics=probe_nics(),
    )
