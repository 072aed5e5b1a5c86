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
  "console|--set console.enabled=true --set console.image.repository=registry.example/stook-console --set console.tls.secretName=console-tls --set console.service.type=NodePort --set console.service.nodePort=30443"
  "metrics|--set metrics.scrapeConfig.enabled=true --set metrics.scrapeConfig.port=9100 --set metrics.scrapeConfig.interval=1m --set metrics.scrapeConfig.labels.release=kube-prometheus-stack"
)
for entry in "${renderings[@]}"; do
  name="${entry%%|*}"
  read -r -a flags <<<"${entry#*|}"
  "$helm" template stook "$CHART" --namespace stook-system --include-crds \
    --kube-version "${kube_version#v}" "${flags[@]}" >"$work/$name.yaml"
  echo "kubeconform: rendering '$name'"
  # ScrapeConfig is prometheus-operator's CRD: no schema offline, checked by hand below.
  "$kubeconform" -strict -summary -skip ScrapeConfig -schema-location "$location" "$work/$name.yaml"
done
grep -q 'stook-console$' "$work/defaults.yaml" \
  && { echo "helm.sh: the console must be off by default (it needs an image)" >&2; exit 1; }
for want in 'kind: Deployment' 'automountServiceAccountToken: false' 'node-role.kubernetes.io/control-plane: "true"' \
  'secretName: console-tls' 'nodePort: 30443' 'name: kube-root-ca.crt'; do
  grep -qF -- "$want" "$work/console.yaml" \
    || { echo "helm.sh: rendering 'console' lacks '$want'" >&2; exit 1; }
done
if "$helm" template stook "$CHART" --set console.enabled=true >/dev/null 2>&1; then
  echo "helm.sh: console.enabled without console.image.repository rendered" >&2
  exit 1
fi
grep -q 'kind: ScrapeConfig' "$work/defaults.yaml" \
  && { echo "helm.sh: the ScrapeConfig must be off by default" >&2; exit 1; }
for want in 'kind: ScrapeConfig' 'role: Node' 'replacement: "${1}:9100"' 'scrapeInterval: 1m' \
  'release: kube-prometheus-stack'; do
  grep -qF -- "$want" "$work/metrics.yaml" \
    || { echo "helm.sh: rendering 'metrics' lacks '$want'" >&2; exit 1; }
done
if grep -q 'kind: DaemonSet' "$work"/*.yaml; then
  echo "helm.sh: the chart renders a DaemonSet: the agent is a host unit, nothing builds its image" >&2
  exit 1
fi

# values.schema.json must reject what is not a value of this chart, and bad types.
for bad in "agent.image.tag=dev" "metrics.scrapeConfig.port=0" "metrics.scrapeConfig.interval=soon"; do
  if "$helm" template stook "$CHART" --set "$bad" >/dev/null 2>&1; then
    echo "helm.sh: values.schema.json accepted --set $bad" >&2
    exit 1
  fi
done

# The check must be able to fail: a misspelt field has to be rejected.
sed '0,/^metadata:/s//metadatx: {}\nmetadata:/' "$work/defaults.yaml" >"$work/broken.yaml"
cmp -s "$work/defaults.yaml" "$work/broken.yaml" && { echo "helm.sh: nothing to break" >&2; exit 1; }
if "$kubeconform" -strict -schema-location "$location" "$work/broken.yaml" >/dev/null 2>&1; then
  echo "helm.sh: kubeconform accepted an object with an unknown field: schemas not strict" >&2
  exit 1
fi
echo "chart: lint, values schema and kubeconform passed"
