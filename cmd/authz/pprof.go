//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

// A build with -tags pprof serves the Go profiler on $AUTHZ_PPROF_ADDR, for
// measuring; release builds have no such listener.
func init() {
	if addr := os.Getenv("AUTHZ_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
