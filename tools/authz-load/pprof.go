//go:build pprof

package main

import (
	"os"
	"runtime/pprof"
)

// A build with -tags pprof writes its CPU profile to $AUTHZ_LOAD_CPUPROFILE.
func init() {
	if p := os.Getenv("AUTHZ_LOAD_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			stopProfile = pprof.StopCPUProfile
		}
	}
}
