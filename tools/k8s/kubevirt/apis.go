// Package apis only pins the API packages generate.sh hands to controller-gen.
package apis

import (
	_ "kubevirt.io/api/core/v1"
	_ "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)
