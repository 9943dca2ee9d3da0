package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// cacheTests check store.CacheClients on top of the backend. The client and
// transaction tests run through the cache as well (see Run): a cached store
// must pass them as the backend does.
var cacheTests = []cacheTest{
	{"ServesFromMemory", testCacheServesFromMemory},
	{"WritesThroughCacheSeenAtOnce", testCacheWritesSeen},
	{"WriteInTxSeenAfterCommit", testCacheWriteInTx},
	{"RollbackKeepsOldClient", testCacheRollback},
	{"ExpiresAfterTTL", testCacheExpires},
	{"CopiesAreIndependent", testCacheCopies},
	{"TxReadsBypassCache", testCacheTxBypass},
	{"ReadOvertakenByWrite", testCacheReadOvertakenByWrite},
	{"CreateForgets", testCacheCreateForgets},
}

type cacheTest struct {
	name string
	fn   func(t *testing.T, backend, cached store.Store)
}

// longTTL outlives every test: what the cache answers after a change made
// behind its back proves it answered from memory.
const longTTL = time.Hour

func cachedClient(t *testing.T, backend, cached store.Store) *store.Client {
	t.Helper()
	c := mkClient(t, backend)
	get(cached.GetClient(t.Context(), c.ID))(t)
	return c
}

func rename(t *testing.T, s store.Store, ctx context.Context, id, name string) {
	t.Helper()
	c := get(s.GetClient(ctx, id))(t)
	c.Name = name
	must(t, s.UpdateClient(ctx, c))
}

func testCacheServesFromMemory(t *testing.T, backend, cached store.Store) {
	c := cachedClient(t, backend, cached)
	rename(t, backend, t.Context(), c.ID, "changed behind the cache")
	if got := get(cached.GetClient(t.Context(), c.ID))(t); got.Name != c.Name {
		t.Fatalf("within the TTL the cache answers %q, want the cached %q", got.Name, c.Name)
	}
	must(t, backend.DeleteClient(t.Context(), c.ID))
	get(cached.GetClient(t.Context(), c.ID))(t)
}

func testCacheWritesSeen(t *testing.T, backend, cached store.Store) {
	ctx := t.Context()
	c := cachedClient(t, backend, cached)
	rename(t, cached, ctx, c.ID, "renamed")
	if got := get(cached.GetClient(ctx, c.ID))(t); got.Name != "renamed" {
		t.Fatalf("after UpdateClient: %q", got.Name)
	}
	must(t, cached.DeleteClient(ctx, c.ID))
	_, err := cached.GetClient(ctx, c.ID)
	wantErr(t, "GetClient after DeleteClient", err, store.ErrNotFound)
}

func testCacheWriteInTx(t *testing.T, backend, cached store.Store) {
	c := cachedClient(t, backend, cached)
	txCtx := get(cached.BeginTx(t.Context()))(t)
	rename(t, cached, txCtx, c.ID, "in tx")
	// Read outside the transaction before it commits: the old row, cached anew.
	if got := get(cached.GetClient(t.Context(), c.ID))(t); got.Name != c.Name {
		t.Fatalf("before commit: %q", got.Name)
	}
	must(t, cached.Commit(txCtx))
	if got := get(cached.GetClient(t.Context(), c.ID))(t); got.Name != "in tx" {
		t.Fatalf("after commit the cache still answers %q", got.Name)
	}
}

func testCacheRollback(t *testing.T, backend, cached store.Store) {
	c := cachedClient(t, backend, cached)
	txCtx := get(cached.BeginTx(t.Context()))(t)
	rename(t, cached, txCtx, c.ID, "rolled back")
	must(t, cached.Rollback(txCtx))
	if got := get(cached.GetClient(t.Context(), c.ID))(t); got.Name != c.Name {
		t.Fatalf("after rollback: %q", got.Name)
	}
}

func testCacheExpires(t *testing.T, backend, _ store.Store) {
	cached := store.CacheClients(backend, time.Millisecond)
	c := cachedClient(t, backend, cached)
	rename(t, backend, t.Context(), c.ID, "changed elsewhere")
	time.Sleep(5 * time.Millisecond)
	if got := get(cached.GetClient(t.Context(), c.ID))(t); got.Name != "changed elsewhere" {
		t.Fatalf("past the TTL the cache still answers %q", got.Name)
	}
}

func testCacheCopies(t *testing.T, backend, cached store.Store) {
	ctx := t.Context()
	c := mkClient(t, backend)
	// The copy handed out on the miss that fills the cache, then one from a
	// hit: scribbling on either must not reach what the next caller gets.
	scribble(t, get(cached.GetClient(ctx, c.ID))(t))
	scribble(t, get(cached.GetClient(ctx, c.ID))(t))
	same(t, "GetClient after callers changed their copies", c, get(cached.GetClient(ctx, c.ID))(t))
}

// scribble changes every field of c in place, the elements of every slice
// included: a field added to Client later is covered without a change here.
func scribble(t *testing.T, c *store.Client) {
	t.Helper()
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			if f.Len() == 0 {
				t.Fatalf("fixture field %s is empty: scribbling on it proves nothing", v.Type().Field(i).Name)
			}
			for j := range f.Len() {
				f.Index(j).Set(reflect.Zero(f.Type().Elem()))
			}
		case reflect.String:
			f.SetString("scribbled")
		case reflect.Bool:
			f.SetBool(!f.Bool())
		}
	}
}

// gatedStore holds its first GetClient after the read until released, as a
// slow read overtaken by a write would.
type gatedStore struct {
	store.Store
	once    sync.Once
	read    chan struct{}
	release chan struct{}
}

func (g *gatedStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := g.Store.GetClient(ctx, id)
	g.once.Do(func() {
		close(g.read)
		<-g.release
	})
	return c, err
}

func testCacheReadOvertakenByWrite(t *testing.T, backend, _ store.Store) {
	ctx := t.Context()
	c := mkClient(t, backend)
	gated := &gatedStore{Store: backend, read: make(chan struct{}), release: make(chan struct{})}
	cached := store.CacheClients(gated, longTTL)
	done := make(chan error, 1)
	go func() {
		_, err := cached.GetClient(ctx, c.ID) // reads the row as it is now, then waits
		done <- err
	}()
	<-gated.read
	renamed := get(backend.GetClient(ctx, c.ID))(t)
	renamed.Name = "renamed"
	must(t, cached.UpdateClient(ctx, renamed))
	close(gated.release)
	must(t, <-done)
	if got := get(cached.GetClient(ctx, c.ID))(t); got.Name != "renamed" {
		t.Fatalf("a read begun before the write cached the old row: %q", got.Name)
	}
}

func testCacheCreateForgets(t *testing.T, backend, cached store.Store) {
	ctx := t.Context()
	c := cachedClient(t, backend, cached)
	// Deleted by another process, then created again here under the same ID.
	must(t, backend.DeleteClient(ctx, c.ID))
	again := clone(c)
	again.Name = "created again"
	must(t, cached.CreateClient(ctx, again))
	if got := get(cached.GetClient(ctx, c.ID))(t); got.Name != "created again" {
		t.Fatalf("after CreateClient the cache answers %q", got.Name)
	}
}

func testCacheTxBypass(t *testing.T, backend, cached store.Store) {
	c := cachedClient(t, backend, cached)
	rename(t, backend, t.Context(), c.ID, "fresh")
	err := store.InTx(t.Context(), cached, func(ctx context.Context) error {
		if got := get(cached.GetClient(ctx, c.ID))(t); got.Name != "fresh" {
			t.Errorf("inside a transaction the cache answered %q", got.Name)
		}
		return nil
	})
	must(t, err)
}
