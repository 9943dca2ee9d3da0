// Package gcfloor keeps the garbage collector's heap goal from falling below
// a floor.
//
// Go sets the next collection at twice the live heap (GOGC=100), and at
// least 4 MiB. An authz server's live heap is 2–3 MiB while it answers token
// requests that allocate 15–20 KB each, so at that default it collects some
// fifty times a second, and the collections with their write barriers and
// assists took a quarter of an introspection's CPU. A floor of 32 MiB makes
// them rarer by eight. Once the live heap passes half the floor (argon2id's
// buffers during logins), GOGC is back at 100 and the floor costs nothing.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultFloor is the heap goal authz keeps at least: what a server may
// hold beyond its live heap between two collections.
const DefaultFloor = 32 << 20

// minHeap is the Go runtime's own floor at GOGC=100, which GOGC scales.
const minHeap = 4 << 20

// Start keeps the heap goal at least floor bytes until stop is called, by
// choosing GOGC again after every collection. It leaves GOGC alone when the
// GOGC environment variable is set: the operator's setting stands.
func Start(floor uint64) (stop func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	return start(floor)
}

// keeper holds GOGC at percent(live heap, floor).
type keeper struct {
	floor   uint64
	stopped atomic.Bool
	mu      sync.Mutex // orders adjust with stop
	sample  []metrics.Sample
}

func start(floor uint64) func() {
	k := &keeper{floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	k.adjust()
	k.arm()
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.stopped.Store(true)
		debug.SetGCPercent(100)
	}
}

// sentinel is garbage whose cleanup marks the end of a collection. It holds
// a pointer so that it is not a tiny allocation, whose cleanups may never
// run.
type sentinel struct{ _ *byte }

// arm has adjust run after the next collection, and arm again.
func (k *keeper) arm() {
	runtime.AddCleanup(new(sentinel), func(k *keeper) {
		if k.adjust() {
			k.arm()
		}
	}, k)
}

// adjust sets GOGC for the live heap now; false once stopped.
func (k *keeper) adjust() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped.Load() {
		return false
	}
	metrics.Read(k.sample)
	live := k.sample[0].Value.Uint64()
	debug.SetGCPercent(percent(live, k.floor))
	return true
}

// percent is the least GOGC of at least 100 that puts the heap goal at or
// above floor with live bytes of live heap: the runtime's goal is the larger
// of minHeap scaled by GOGC and the live heap grown by GOGC percent.
func percent(live, floor uint64) int {
	byMinimum := floor * 100 / minHeap
	p := byMinimum
	if live > 0 {
		p = min(p, (floor-min(live, floor))*100/live)
	}
	return int(max(p, 100))
}
