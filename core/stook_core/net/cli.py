"""``stook-net``: the node-side network commands systemd runs, not the agent.

- ``stook-net rollback ID``: the transient unit of a management-network trial
  (stook_core.net.checkpoint) rolls it back unless it was committed first.
- ``stook-net apply-saved``: at boot (stook-networks.service, before RKE2 and the agent) the
  cluster networks the agent last applied come back (stook_core.net.saved), each once udev has
  given its NICs their final names (stook_core.net.nicwait).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stook_core.door import add_debug_flag, guard
from stook_core.net import cluster, saved
from stook_core.net.checkpoint import SystemHost, Trial, TrialError, check_ident
from stook_core.net.links import Netlink
from stook_core.net.nicwait import WAIT_SECONDS, NicWait

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stook-net", description=__doc__.split("\n")[0])
    add_debug_flag(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    rollback = commands.add_parser("rollback", help="roll a management-network trial back")
    rollback.add_argument("ident", type=check_ident, help="the trial's id")
    commands.add_parser("apply-saved", help="re-apply the saved cluster networks (boot)")
    return parser


def rollback(ident: str, trial: Trial | None = None) -> int:
    result = (trial or Trial(SystemHost())).rollback(ident)
    if result is None:
        print(f"stook-net: trial {ident}: nothing to roll back (no checkpoint, no result)")
        return EXIT_OK
    failed = ", ".join(result.failed_probes) or "none"
    print(f"stook-net: trial {ident}: {result.outcome} by the {result.by} ({result.reason}); "
          f"failed probes: {failed}")  # fmt: skip
    return EXIT_OK


def apply_saved() -> int:
    from pyroute2 import IPRoute

    from stook_core.net.links import Pyroute2Netlink

    with IPRoute() as ipr:
        netlink = Pyroute2Netlink(ipr)
        return apply_all(netlink, saved.load_all(), NicWait(netlink.links))


def apply_all(
    netlink: Netlink, specs: list[cluster.ClusterNetworkSpec], nics: NicWait,
    seconds: float = WAIT_SECONDS,
) -> int:  # fmt: skip
    """Each saved network once its NICs are there under their final names (bounded wait)."""
    code = EXIT_OK
    missing = nics.wait(specs, seconds) if specs else {}
    for spec in specs:
        problem = missing.get(spec.network)
        if problem is None:
            try:
                applied = cluster.apply(netlink, spec)
            except (cluster.RefusedError, OSError) as error:
                problem = str(error)
        if problem is not None:
            print(f"stook-net: cluster network {spec.network}: {problem}", file=sys.stderr)
            code = EXIT_FAILED
            continue
        print(f"stook-net: cluster network {spec.network}: NICs {', '.join(applied.nics)}, "
              f"VLANs {', '.join(map(str, applied.vlans)) or 'none'}")  # fmt: skip
    return code


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "rollback":
            return rollback(args.ident)
        return apply_saved()
    except (TrialError, ValueError, OSError) as error:
        print(f"stook-net: {error}", file=sys.stderr)
        return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    return guard("stook-net", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
