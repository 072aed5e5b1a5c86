"""An install config's and a fleet inventory's problems are one kind of error with one report:
a line naming the input and the count, then one indented line per problem, each in its order."""

from __future__ import annotations

from stook_core.fleet import FleetError, FleetProblem
from stook_core.problems import ConfigError, Problem, ProblemsError


def test_config_and_inventory_problems_share_one_report() -> None:
    config = ConfigError(
        [Problem.of("install.vip.address", "is not an address", "x"),
         Problem.of("install.hostname", "is required", missing=True),
         Problem.of("install.hostname", "is required", missing=True)],
        source="node.yaml",
    )  # fmt: skip
    fleet = FleetError(
        [FleetProblem.of("stook_node.hostname", "is taken", "n1", hosts=["n2"]),
         FleetProblem.of("stook_cluster.vip", "is not an address", "x")],
        source="hosts.yml",
    )  # fmt: skip
    for error in (config, fleet):  # one class for every door to catch and print
        assert isinstance(error, ProblemsError) and isinstance(error, ValueError)
        assert str(error) == error.report()
    assert config.report().splitlines() == [  # sorted by field, repeats once
        "node.yaml: 2 problem(s)",
        "  install.hostname: is required",
        '  install.vip.address: "x" is not an address',
    ]
    assert fleet.report().splitlines() == [  # the cluster's problems before the hosts'
        "hosts.yml: 2 problem(s)",
        '  stook_cluster.vip: "x" is not an address',
        '  n2: stook_node.hostname: "n1" is taken',
    ]
