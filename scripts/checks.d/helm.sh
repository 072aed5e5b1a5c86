#!/usr/bin/env bash
# The Helm chart: `helm lint --strict`, then every rendering validated by kubeconform -strict
# against JSON schemas generated offline from the pinned Kubernetes' swagger.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHART="$ROOT/charts/stook"
bin="$(bash "$ROOT/tools/k8s/build.sh" chart)"
helm="$bin/helm"
kubeconform="$bin/kubeconform"

# Schemas for the Kubernetes version the API server tests use.
kube_dir="$(cd "$ROOT/tools/k8s/apiserver" && go mod download -json k8s.io/kubernetes |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
kube_version="$(cd "$ROOT/tools/k8s/apiserver" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
generator="$ROOT/tools/k8s/openapi2jsonschema.py"
schemas="${XDG_CACHE_HOME:-$HOME/.cache}/stook/k8s/schemas-$kube_version-$(sha256sum "$generator" | cut -c1-12)"
if [[ ! -f $schemas/_definitions.json ]]; then
  python3 "$generator" "$kube_dir/api/openapi-spec/swagger.json" "$schemas.tmp"
  rm -rf "$schemas" && mv "$schemas.tmp" "$schemas"
fi
location="$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json"

"$helm" lint --strict "$CHART" --kube-version "${kube_version#v}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
renderings=(
  "defaults|"
  "no-rbac|--set rbac.create=false --set serviceAccount.name=existing"
  "custom|--set agent.image.tag=dev --set agent.podAnnotations.team=storage --set agent.imagePullSecrets[0].name=regcred"
)
for entry in "${renderings[@]}"; do
  name="${entry%%|*}"
  read -r -a flags <<<"${entry#*|}"
  "$helm" template stook "$CHART" --namespace stook-system --include-crds \
    --kube-version "${kube_version#v}" "${flags[@]}" >"$work/$name.yaml"
  echo "kubeconform: rendering '$name'"
  "$kubeconform" -strict -summary -schema-location "$location" "$work/$name.yaml"
done

# The check must be able to fail: a misspelt field has to be rejected.
sed 's/hostNetwork: true/hostNetwrk: true/' "$work/defaults.yaml" >"$work/broken.yaml"
if "$kubeconform" -strict -schema-location "$location" "$work/broken.yaml" >/dev/null 2>&1; then
  echo "helm.sh: kubeconform accepted a DaemonSet with an unknown field: schemas not strict" >&2
  exit 1
fi
echo "chart: lint and kubeconform passed"
