//go:build race

package server

// raceAllocs is what the race detector's instrumentation adds to a request's
// allocations.
const raceAllocs = 15
