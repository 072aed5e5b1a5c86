"""KubeVirt's and CDI's CRDs, with their real schemas, for the test API server.

Neither project ships static CRD YAML: their operators create the CRDs at run time. The
schemas come from the pinned API modules (tools/k8s/kubevirt/go.mod) through controller-gen,
as both projects generate them (tools/k8s/build.sh kubevirt, cached). Then, as KubeVirt's
operator does (pkg/virt-operator/resource/generate/components/crds.go), each CRD gets its
names, categories, subresources and printer columns. No KubeVirt controller runs: tests write
the VM/VMI/DataVolume statuses themselves, in the shapes these schemas accept.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.apiserver import BUILD_SCRIPT, ApiServerError

Object = dict[str, Any]
AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
READY = {"name": "Ready", "type": "string",
         "jsonPath": ".status.conditions[?(@.type=='Ready')].status"}  # fmt: skip

# crds.go: NewVirtualMachineCrd / NewVirtualMachineInstanceCrd (KubeVirt v1.8.0).
OPERATOR_ADDS: dict[str, Object] = {
    "kubevirt.io_virtualmachines.yaml": {
        "names": {"shortNames": ["vm", "vms"], "categories": ["all"]},
        "subresources": {"status": {}},
        "columns": [
            AGE,
            {
                "name": "Status",
                "type": "string",
                "description": "Human Readable Status",
                "jsonPath": ".status.printableStatus",
            },
            READY,
        ],
    },
    "kubevirt.io_virtualmachineinstances.yaml": {
        "names": {"shortNames": ["vmi", "vmis"], "categories": ["all"]},
        "subresources": None,  # virt-handler writes a VMI's status with the object
        "columns": [
            AGE,
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "IP", "type": "string", "jsonPath": ".status.interfaces[0].ipAddress"},
            {"name": "NodeName", "type": "string", "jsonPath": ".status.nodeName"},
            READY,
        ],
    },
    "cdi.kubevirt.io_datavolumes.yaml": {},  # its kubebuilder markers say it all
}


def generated_dir() -> Path:
    """The directory of controller-gen's CRDs (built once, then cached)."""
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT), "kubevirt"],
            capture_output=True, text=True, check=False, timeout=1800,
        )  # fmt: skip
    except subprocess.TimeoutExpired as error:
        raise ApiServerError(f"{BUILD_SCRIPT} kubevirt took over {error.timeout:.0f} s") from None
    if done.returncode != 0:
        raise ApiServerError(
            f"generating KubeVirt's and CDI's CRDs failed ({BUILD_SCRIPT} kubevirt):\n"
            f"{done.stderr[-4000:]}"
        )
    return Path(done.stdout.strip().splitlines()[-1]).parent / "crds"


def crds(directory: Path | None = None) -> list[Object]:
    """VirtualMachine, VirtualMachineInstance and DataVolume as their operators install them."""
    directory = directory or generated_dir()
    found = []
    for file_name, adds in OPERATOR_ADDS.items():
        crd: Object = yaml.safe_load((directory / file_name).read_text())
        crd["spec"]["names"].update(adds.get("names", {}))
        for version in crd["spec"]["versions"]:
            if "subresources" in adds:
                if adds["subresources"] is None:
                    version.pop("subresources", None)
                else:
                    version["subresources"] = adds["subresources"]
            if "columns" in adds:
                version["additionalPrinterColumns"] = adds["columns"]
        found.append(crd)
    return found
