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
//
// GOGC is chosen after each collection, for the next: a live heap that grows
// between two collections is met with the GOGC of the smaller one until the
// keeper runs again, a few milliseconds after the collection (the growth in
// between is bounded by what the process allocates meanwhile, and GOMEMLIMIT
// caps the heap at once).
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultFloor is the heap goal authz keeps at least: what a server may
// hold beyond its live heap between two collections.
const DefaultFloor = 32 << 20

// minHeap is the Go runtime's own floor at GOGC=100, which GOGC scales.
const minHeap = 4 << 20

// The collector is the process's, so one keeper serves every Start.
var (
	mu     sync.Mutex
	starts int
	active *keeper
)

// Start keeps the heap goal at least floor bytes until every stop it
// returned has been called, by choosing GOGC again after every collection;
// the last stop puts back the GOGC from before. While a keeper runs, a
// second Start shares it (and its floor). Start leaves GOGC alone when the
// GOGC environment variable is set: the operator's setting stands.
func Start(floor uint64) (stop func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	return start(floor)
}

func start(floor uint64) func() {
	mu.Lock()
	defer mu.Unlock()
	starts++
	if active == nil {
		active = &keeper{floor: floor, prev: -1, sample: []metrics.Sample{
			{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
		active.adjust()
		active.arm()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if starts--; starts == 0 {
				active.stop()
				active = nil
			}
		})
	}
}

// keeper holds GOGC at percent(live heap, floor).
type keeper struct {
	floor   uint64
	mu      sync.Mutex // orders adjust with stop
	stopped bool
	prev    int // GOGC before the keeper, -1 until its first adjust
	sample  []metrics.Sample
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

// adjust sets GOGC for the heap now; false once stopped.
func (k *keeper) adjust() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return false
	}
	metrics.Read(k.sample)
	live := k.sample[0].Value.Uint64()
	scan := k.sample[1].Value.Uint64() + k.sample[2].Value.Uint64()
	old := debug.SetGCPercent(percent(live, scan, k.floor))
	if k.prev < 0 {
		k.prev = old
	}
	return true
}

func (k *keeper) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopped = true
	if k.prev >= 0 {
		debug.SetGCPercent(k.prev)
	}
}

// percent is the least GOGC of at least 100 that puts the heap goal at or
// above floor, with live bytes of live heap and scan bytes of stacks and
// globals. The runtime's goal is the larger of minHeap scaled by GOGC, and
// live + (live + scan) × GOGC/100.
func percent(live, scan, floor uint64) int {
	p := ceilDiv(floor*100, minHeap)
	if live+scan > 0 {
		p = min(p, ceilDiv((floor-min(live, floor))*100, live+scan))
	}
	return int(max(p, 100))
}

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }
