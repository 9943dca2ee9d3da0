package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 32 * mib, 800},        // nothing live: the runtime's minimum, scaled
		{2 * mib, 32 * mib, 800},  // minimum 32 MiB; 2 MiB × 9 = 18 MiB
		{12 * mib, 32 * mib, 166}, // 12 MiB × 2.66 = 32 MiB
		{16 * mib, 32 * mib, 100}, // the default reaches the floor
		{40 * mib, 32 * mib, 100}, // above it, never less than the default
		{2 * mib, 4 * mib, 100},   // the runtime's own floor
	} {
		if got := percent(c.live, c.floor); got != c.want {
			t.Errorf("percent(%d MiB, %d MiB) = %d, want %d", c.live/mib, c.floor/mib, got, c.want)
		}
	}
}

// With a small live heap, allocating 256 MiB of garbage takes about eight
// collections over a 32 MiB floor, where the default's 4 MiB goal takes
// some sixty.
func TestFloorMakesCollectionsRarer(t *testing.T) {
	stop := start(DefaultFloor)
	defer stop()
	runtime.GC() // the keeper sees the live heap as it is now
	n := collections(256 << 20)
	t.Logf("%d collections", n)
	if n > 20 {
		t.Errorf("%d collections for 256 MiB of garbage over a 32 MiB floor, want about 8", n)
	}
	stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC %d after stop, want 100 again", got)
	}
}

func TestStartLeavesSetGOGCAlone(t *testing.T) {
	t.Setenv("GOGC", "100")
	stop := Start(DefaultFloor)
	defer stop()
	runtime.GC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC %d with GOGC set in the environment, want it left at 100", got)
	}
}

var sink []byte

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
