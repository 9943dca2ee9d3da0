package storetest

import (
	"context"
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
	c := cachedClient(t, backend, cached)
	got := get(cached.GetClient(t.Context(), c.ID))(t)
	got.Name = "scribbled"
	got.RedirectURIs[0] = "https://evil.example/cb"
	got.SecretHash[0] ^= 0xff
	same(t, "GetClient after the caller changed its copy", c, get(cached.GetClient(t.Context(), c.ID))(t))
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
