#!/usr/bin/env bash
# Run by tools/k8s/build.sh kubevirt once controller-gen is built: KubeVirt's and CDI's CRDs
# from the pinned API modules, the way their projects generate them (kubevirt hack/generate.sh:
# `controller-gen crd:allowDangerousTypes=true paths=.../api/core/v1/`; CDI: `controller-gen
# crd` over pkg/apis/core/v1beta1). Output: <out>/crds/<group>_<plural>.yaml. KubeVirt's
# operator adds names, subresources and printer columns at install time (tests/support/kubevirt.py
# does the same for the test API server).
set -euo pipefail
bin="${1:?usage: generate.sh BIN_DIR OUT_DIR}"
out="${2:?usage: generate.sh BIN_DIR OUT_DIR}"
cd "$(dirname "${BASH_SOURCE[0]}")"
"$bin/controller-gen" crd:allowDangerousTypes=true paths=kubevirt.io/api/core/v1 \
  output:crd:dir="$out/crds"
"$bin/controller-gen" crd paths=kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1 \
  output:crd:dir="$out/crds"
