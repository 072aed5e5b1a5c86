"""The GRUB script that implements the slot choice of slots.grub_pick on real hardware.

Used by the installer's grub.cfg (after ``$root`` points at the ESP, as GRUB's prefix does):
``slot_choice()`` returns a fragment that

1. loads the boot environment from copy 1 if its lock says 0 and ORDER is valid, else copy 2
   (whitelisted variables only, so a damaged block cannot set ``root`` or ``prefix``);
2. walks ORDER and picks the first slot with ``<S>_OK=1`` or ``<S>_LEFT`` in 1..9, spending one
   attempt on a slot that is not good; when none qualifies it boots the first slot in ORDER that
   holds a version (``stook.boot=exhausted``), spending nothing;
3. saves every variable it loaded plus ``BOOTED`` into copy 1 (lock, write, unlock), and only
   when that worked into copy 2; when saving fails on a trial it boots a good slot instead
   (an attempt that cannot be counted must not be taken: it could loop forever);
4. defines the default menu entry: kernel and initrd from ``/boot/vmlinuz`` and
   ``/boot/initrd.img`` inside the chosen slot's squashfs (GPT partition of the ESP's disk),
   ``root=PARTLABEL=STOOK_<S> stook.slot=<S> panic=N``.

GRUB script has no arithmetic: the decrement is spelled out for 1..MAX_ATTEMPTS.
The GRUB images must contain GRUB_MODULES.
"""

from __future__ import annotations

from collections.abc import Mapping

from stook_core.boot.booted import SLOT_LABELS
from stook_core.boot.slots import MAX_ATTEMPTS, SLOTS, VERSION_RE, Slot
from stook_core.boot.store import COPIES, GRUB_DIR, LOCK_VAR

# Partition numbers of the slots on the ESP's disk (docs/ab-boot.md, the installer's layout).
SLOT_PARTITIONS: dict[Slot, int] = {"A": 3, "B": 4}
DEFAULT_PANIC = 10
KERNEL = "/boot/vmlinuz"
INITRD = "/boot/initrd.img"
GRUB_MODULES = (
    "part_gpt", "fat", "squash4", "xzio", "gzio", "loadenv", "regexp", "test", "echo",
    "linux", "normal", "sleep",
)  # fmt: skip
ENV_VARS = ("ORDER", *(f"{s}_{k}" for s in SLOTS for k in ("OK", "LEFT", "VERSION")), "BOOTED")
# What a copy's variables must match for GRUB to use it (POSIX ERE, as GRUB's regexp): the same
# rules as slots.BootEnv.from_grubenv, so GRUB and userspace pick the same copy.
_VERSION = VERSION_RE.pattern.removeprefix("^").removesuffix("$")
VALID: dict[str, str] = {
    "ORDER": "^(A B|B A)$",
    **{f"{s}_OK": "^[01]$" for s in SLOTS},
    **{f"{s}_LEFT": "^[0-9]$" for s in SLOTS},
    **{f"{s}_VERSION": f"^({_VERSION})?$" for s in SLOTS},
    "BOOTED": "^[AB]?$",
}
MARKER = "Stook: loading slot"  # echoed by the menu entry, before the kernel is read


def _spend(slot: Slot) -> str:
    var = f"{slot}_LEFT"
    lines = [f"function stook_spend_{slot} {{"]
    for left in range(MAX_ATTEMPTS, 0, -1):
        keyword = "if" if left == MAX_ATTEMPTS else "elif"
        lines.append(f'  {keyword} [ "${{{var}}}" = "{left}" ]; then set {var}={left - 1}')
    lines += ["  fi", "}"]
    return "\n".join(lines)


def _pick_in_order(slot_test: Mapping[Slot, str], indent: str) -> str:
    """for each slot in ORDER: first one whose test holds becomes stook_slot."""
    body = [
        f"{indent}for stook_s in ${{ORDER}}; do",
        f'{indent}  if [ -z "${{stook_slot}}" ]; then',
    ]
    for slot in SLOTS:
        body.append(f'{indent}    if [ "${{stook_s}}" = "{slot}" ]; then')
        body += [f"{indent}      {line}" for line in slot_test[slot].splitlines()]
        body.append(f"{indent}    fi")
    body += [f"{indent}  fi", f"{indent}done"]
    return "\n".join(body)


def _valid_env() -> str:
    """function stook_valid_env: succeeds when every variable matches VALID."""
    lines = ["function stook_valid_env {"]
    for depth, var in enumerate(ENV_VARS):
        lines.append(f"{'  ' * (depth + 1)}if regexp '{VALID[var]}' \"${{{var}}}\"; then")
    lines.append(f"{'  ' * (len(ENV_VARS) + 1)}return 0")
    lines += [f"{'  ' * depth}fi" for depth in range(len(ENV_VARS), 0, -1)]
    lines += ["  return 1", "}"]
    return "\n".join(lines)


def slot_choice(
    kernel_args: str = "",
    panic: int = DEFAULT_PANIC,
    partitions: Mapping[Slot, int] = SLOT_PARTITIONS,
    grub_dir: str = GRUB_DIR,
) -> str:
    """The grub.cfg fragment. *kernel_args* (console=..., stook.state=...) are appended."""
    if panic < 1:
        raise ValueError("panic must be >= 1 second, or a panicking kernel never reboots")
    names = " ".join(ENV_VARS)
    clear = "\n".join(f"  set {var}=" for var in ENV_VARS)
    normal = {
        s: (
            f'if [ "${{{s}_OK}}" = "1" ]; then\n'
            f"  set stook_slot={s}\n"
            f"elif regexp '^[1-9]$' \"${{{s}_LEFT}}\"; then\n"
            f"  set stook_slot={s}\n  set stook_trial=1\n  stook_spend_{s}\n"
            "fi"
        )
        for s in SLOTS
    }
    holding = {s: f'if [ -n "${{{s}_VERSION}}" ]; then set stook_slot={s}; fi' for s in SLOTS}
    good_other = {s: f'if [ "${{{s}_OK}}" = "1" ]; then set stook_slot={s}; fi' for s in SLOTS}
    part = "\n".join(
        f'if [ "${{stook_slot}}" = "{s}" ]; then set stook_part={n}; '
        f"set stook_label={SLOT_LABELS[s]}; fi"
        for s, n in partitions.items()
    )
    extra = f" {kernel_args}" if kernel_args else ""
    spend = "\n".join(_spend(s) for s in SLOTS)
    envdir = "/" + grub_dir.strip("/")
    return f"""# --- Stook A/B slot choice (stook_core.boot.grubcfg; see docs/ab-boot.md)
set stook_esp="${{root}}"
set stook_envdir="(${{stook_esp}}){envdir}"
regexp --set=1:stook_disk '^(.*),gpt[0-9]+$' "${{stook_esp}}"

function stook_clear {{
{clear}
}}

{_valid_env()}

# $1: grubenv or grubenv2. Succeeds when that copy is unlocked and every variable is valid.
function stook_load_copy {{
  set {LOCK_VAR}=1
  if load_env --file "${{stook_envdir}}/$1.lock" {LOCK_VAR}; then
    if [ "${{{LOCK_VAR}}}" = "0" ]; then
      stook_clear
      if load_env --file "${{stook_envdir}}/$1" {names}; then
        if stook_valid_env; then
          return 0
        fi
      fi
    fi
  fi
  return 1
}}

# $1: grubenv or grubenv2. Lock, write every variable, unlock.
function stook_save_copy {{
  set {LOCK_VAR}=1
  if save_env --file "${{stook_envdir}}/$1.lock" {LOCK_VAR}; then
    if save_env --file "${{stook_envdir}}/$1" {names}; then
      set {LOCK_VAR}=0
      if save_env --file "${{stook_envdir}}/$1.lock" {LOCK_VAR}; then
        return 0
      fi
    fi
  fi
  return 1
}}

{spend}

set stook_flags=
if stook_load_copy {COPIES[0]}; then
  set stook_copy=1
elif stook_load_copy {COPIES[1]}; then
  set stook_copy=2
else
  echo "Stook: the boot environment is unreadable; trying slot A"
  stook_clear
  set stook_copy=0
  set ORDER="A B"
  set stook_flags=" stook.env=unreadable"
fi

set stook_slot=
set stook_trial=0
{_pick_in_order(normal, "")}
if [ -z "${{stook_slot}}" ]; then
  echo "Stook: no slot is good or has attempts left"
  set stook_flags="${{stook_flags}} stook.boot=exhausted"
{_pick_in_order(holding, "  ")}
  if [ -z "${{stook_slot}}" ]; then
    regexp --set=1:stook_slot '^([AB])' "${{ORDER}}"
  fi
fi

set BOOTED="${{stook_slot}}"
set stook_saved=0
if stook_save_copy {COPIES[0]}; then
  if stook_save_copy {COPIES[1]}; then
    set stook_saved=1
  fi
fi
if [ "${{stook_saved}}" = "0" ]; then
  echo "Stook: cannot save the boot environment"
  set stook_flags="${{stook_flags}} stook.env=unsaved"
  if [ "${{stook_trial}}" = "1" ]; then
    set stook_tried="${{stook_slot}}"
    set stook_slot=
{_pick_in_order(good_other, "    ")}
    if [ -z "${{stook_slot}}" ]; then
      set stook_slot="${{stook_tried}}"
    fi
  fi
fi

echo "Stook: chose slot ${{stook_slot}} (copy ${{stook_copy}} read, saved ${{stook_saved}})"
echo "Stook: flags:${{stook_flags}}"

set stook_part=
{part}
set stook_dev="(${{stook_disk}},gpt${{stook_part}})"
set stook_cmdline="root=PARTLABEL=${{stook_label}} rootfstype=squashfs ro"
set stook_cmdline="${{stook_cmdline}} stook.slot=${{stook_slot}} panic={panic}"
set stook_cmdline="${{stook_cmdline}}${{stook_flags}}{extra}"
export stook_dev
export stook_slot
export stook_cmdline
set default=stook
menuentry "Stook OS (slot ${{stook_slot}})" --id stook {{
  echo "{MARKER} ${{stook_slot}}"
  linux ${{stook_dev}}{KERNEL} ${{stook_cmdline}}
  initrd ${{stook_dev}}{INITRD}
}}
# --- end of Stook A/B slot choice
"""
