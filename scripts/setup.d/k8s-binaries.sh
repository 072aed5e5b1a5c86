#!/usr/bin/env bash
# Build (once; then cached under ~/.cache/stook/k8s) the Go-built tools the tests use:
# etcd + kube-apiserver for the agent's integration tier, helm + kubeconform for the chart check,
# controller-gen + KubeVirt's and CDI's CRDs for the VM controller's tests.
# Versions are pinned in tools/k8s/*/go.mod. With KUBEBUILDER_ASSETS set, the API server
# binaries come from there instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
modules=(chart kubevirt)
[[ -n ${KUBEBUILDER_ASSETS:-} ]] || modules+=(apiserver)
for module in "${modules[@]}"; do
  start=$SECONDS
  bin="$(bash "$ROOT/tools/k8s/build.sh" "$module")"
  echo "k8s tools ($module): $bin ($((SECONDS - start)) s)"
done
