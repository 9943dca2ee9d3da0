package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/testsupport/pgtest"
	"github.com/authz/authz/internal/testsupport/testkeys"
)

// keyClock is the clock of the signing keys of one or more replicas: real
// time plus an offset the test moves forward, so that a rotated-in key
// activates without the test waiting for it.
type keyClock struct{ offset atomic.Int64 }

// driveKeys makes a new keyClock the clock of the signing keys of ins. Call it
// before any request reaches them.
func driveKeys(ins ...*instance) *keyClock {
	c := &keyClock{}
	for _, in := range ins {
		in.App.Keys.Now = c.now
	}
	return c
}

func (c *keyClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// reach moves the clock forward to at, if it is not there yet.
func (c *keyClock) reach(at time.Time) {
	if d := at.Sub(c.now()); d > 0 {
		c.offset.Add(int64(d))
	}
}

// Replicas started at the same moment on a fresh PostgreSQL database all come
// up, with one signing key of each algorithm between them that each publishes.
func TestReplicasStartingTogetherShareOneKey(t *testing.T) {
	dbURL := pgtest.URL(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealKey := base64.StdEncoding.EncodeToString(key)
	cfgs := make([]*config.Config, 3)
	for i := range cfgs {
		cfgs[i] = loadConfig(t, "--data-dir", t.TempDir(), "--issuer", "http://127.0.0.1", "--database-url", dbURL,
			"--seal-key", sealKey, "--password-memory-kib", "1024", "--password-iterations", "1")
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	apps := make([]*server.App, len(cfgs))
	errs := make([]error, len(cfgs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		wg.Go(func() {
			<-start
			apps[i], errs[i] = server.Open(context.Background(), cfg, log, io.Discard, server.WithKeyGenerator(testkeys.Generator()))
		})
	}
	close(start)
	wg.Wait()
	var ins []*instance
	for i, app := range apps {
		if errs[i] != nil {
			t.Errorf("replica %d did not start: %v", i, errs[i])
			continue
		}
		srv := httptest.NewServer(app.Handler())
		t.Cleanup(func() { srv.Close(); _ = app.Close() })
		ins = append(ins, &instance{t: t, App: app, URL: srv.URL})
	}
	if len(ins) != len(cfgs) {
		t.FailNow()
	}
	rows, err := apps[0].Store.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// One key of each algorithm (oauth.SigningAlgorithms).
	if len(rows) != 2 || rows[0].Algorithm == rows[1].Algorithm {
		t.Fatalf("%d replicas starting together stored %d signing keys, want one RS256 and one ES256", len(cfgs), len(rows))
	}
	for i, in := range ins {
		if got := jwksKids(t, in); !slices.Equal(got, []string{rows[0].ID, rows[1].ID}) {
			t.Errorf("replica %d publishes %v, want [%s %s]", i, got, rows[0].ID, rows[1].ID)
		}
	}
}
