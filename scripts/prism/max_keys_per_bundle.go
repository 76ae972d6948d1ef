// Added to Prism's engine package by scripts/build_prism.sh (see keys_per_bundle.patch).

package engine

import (
	"os"
	"strconv"
)

// MaxKeysPerBundle caps the keys in a bundle of a stateful stage: 0 (the default) leaves
// Prism as it is, every key with pending elements in one bundle. Set from the environment,
// PRISM_MAX_KEYS_PER_BUNDLE=N, so that a run can bound what the SDK worker holds per bundle
// the way Dataflow's per-key streaming work items do.
var MaxKeysPerBundle int

func init() {
	if n, err := strconv.Atoi(os.Getenv("PRISM_MAX_KEYS_PER_BUNDLE")); err == nil && n > 0 {
		MaxKeysPerBundle = n
	}
}
