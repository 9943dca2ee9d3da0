package sqlite

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// The background checkpointer keeps the WAL small although commits
// checkpoint only past 10000 pages. Not parallel: it changes
// checkpointEvery, which every store's checkpointer reads.
func TestCheckpointerBoundsTheWAL(t *testing.T) {
	old := checkpointEvery
	checkpointEvery = 10 * time.Millisecond
	t.Cleanup(func() { checkpointEvery = old })
	path := t.TempDir() + "/authz.db"
	s := open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	tok := benchToken()
	const rounds, perRound = 10, 200
	for r := range rounds {
		for i := range perRound {
			tok.Signature = strconv.Itoa(r*perRound + i)
			if err := s.CreateToken(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
		}
		// Wait for two checkpoints after the round (the first may have
		// begun before its last commit), however busy the machine is.
		for want, deadline := s.ckpt.runs.Load()+2, time.Now().Add(10*time.Second); s.ckpt.runs.Load() < want; {
			if time.Now().After(deadline) {
				t.Fatal("the checkpointer did not run for 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Without the checkpointer, the WAL would hold every page written, some
	// 35 MB for these 2000 inserts.
	if fi.Size() > 8<<20 {
		t.Errorf("WAL is %d MB after %d inserts: the checkpointer does not keep up", fi.Size()>>20, rounds*perRound)
	}
	t.Logf("WAL %d KB after %d inserts", fi.Size()>>10, rounds*perRound)
}
