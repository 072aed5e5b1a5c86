// Multus's NetworkAttachmentDefinition API (pinned): its module ships the CRD the test API
// server installs (artifacts/networks-crd.yaml), fetched through the Go module proxy and
// verified against go.sum by tests/support/multus.py (`go mod download -json`).
module stook.io/tools/k8s/multus

go 1.26.0

require github.com/k8snetworkplumbingwg/network-attachment-definition-client v1.7.7
