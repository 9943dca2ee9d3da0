package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, scan, floor uint64
		want              int
	}{
		{0, 0, 32 * mib, 800},              // nothing live: the runtime's minimum, scaled
		{2 * mib, 0, 32 * mib, 800},        // minimum 32 MiB; 2 MiB × 9 = 18 MiB
		{12 * mib, 0, 32 * mib, 167},       // 12 + 12 × 1.67 = 32.04 MiB
		{12 * mib, 4 * mib, 32 * mib, 125}, // 12 + 16 × 1.25 = 32 MiB
		{16 * mib, 0, 32 * mib, 100},       // the default reaches the floor
		{40 * mib, 0, 32 * mib, 100},       // above it, never less than the default
		{2 * mib, 0, 4 * mib, 100},         // the runtime's own floor
	} {
		if got := percent(c.live, c.scan, c.floor); got != c.want {
			t.Errorf("percent(%d MiB, %d MiB, %d MiB) = %d, want %d", c.live/mib, c.scan/mib, c.floor/mib, got, c.want)
		}
	}
}

// With a small live heap, allocating 256 MiB of garbage takes about eight
// collections over a 32 MiB floor, where the default's 4 MiB goal takes
// some eighty. The GOGC from before comes back with the last stop.
func TestFloorMakesCollectionsRarer(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set: the heap limit, not the floor, would decide")
	}
	before := gogc()
	stop := start(DefaultFloor)
	defer stop()
	n := collections(256 << 20)
	t.Logf("%d collections", n)
	if n > 20 {
		t.Errorf("%d collections for 256 MiB of garbage over a 32 MiB floor, want about 8", n)
	}
	stop()
	if got := gogc(); got != before {
		t.Errorf("GOGC %d after stop, want %d again", got, before)
	}
}

// After each collection the keeper follows the live heap: back to the
// default while 24 MiB are live, up again once they are not.
func TestKeeperFollowsLiveHeap(t *testing.T) {
	stop := start(DefaultFloor)
	defer stop()
	held = make([]byte, 24<<20)
	waitGOGC(t, 100)
	held = nil
	waitGOGC(t, 800)
}

// A second Start shares the running keeper; only the last stop ends it.
func TestStartsShareOneKeeper(t *testing.T) {
	before := gogc()
	stopA := start(DefaultFloor)
	stopB := start(DefaultFloor)
	stopA()
	stopA()
	waitGOGC(t, 800)
	stopB()
	if got := gogc(); got != before {
		t.Errorf("GOGC %d after the last stop, want %d", got, before)
	}
}

func TestStartLeavesSetGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "137")
	defer debug.SetGCPercent(debug.SetGCPercent(137))
	stop := Start(DefaultFloor)
	defer stop()
	runtime.GC()
	if got := gogc(); got != 137 {
		t.Errorf("GOGC %d with GOGC=137 in the environment, want it left alone", got)
	}
}

// waitGOGC runs collections until the keeper has set GOGC to want.
func waitGOGC(t *testing.T, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); gogc() != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d, want %d", gogc(), want)
		}
		runtime.GC()
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// sink keeps garbage from being optimized away; held keeps a live heap.
var sink, held []byte

// collections allocates total bytes in 16 KiB pieces, each dropped at once,
// and counts the collections that ran meanwhile.
func collections(total int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range total / (16 << 10) {
		sink = make([]byte, 16<<10)
	}
	sink = nil
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}
