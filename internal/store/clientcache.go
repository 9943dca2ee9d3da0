package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// CacheClients returns s with GetClient answered from memory for up to ttl.
// Every token, introspection and revocation request reads its client at
// least twice (to authenticate it and to rebuild the grant), so on a busy
// server the clients table is the hottest read by far, and it hardly ever
// changes.
//
// A change made through the returned Store is seen at once; one made by
// another process (another replica, the CLI on the same SQLite file) within
// ttl. Reads inside a transaction always go to s, so a read-modify-write in
// a transaction never starts from a cached copy.
func CacheClients(s Store, ttl time.Duration) Store {
	return &clientCache{Store: s, ttl: ttl, entries: map[string]cachedClient{}}
}

// maxCachedClients bounds the cache: a new entry past it first drops the
// expired ones, and if that is not enough the cache starts over. Only clients
// that exist are cached, so unknown client IDs cannot fill it.
const maxCachedClients = 10_000

type clientCache struct {
	Store
	ttl time.Duration

	mu      sync.RWMutex
	entries map[string]cachedClient
	// gen counts forgets: a read that began before one must not cache what
	// it read, which may be the row as it was before the write.
	gen uint64
}

type cachedClient struct {
	client  *Client
	expires time.Time
}

// GetClient returns a copy of the cached client, the caller being free to
// change it.
func (c *clientCache) GetClient(ctx context.Context, id string) (*Client, error) {
	if inTx(ctx) {
		return c.Store.GetClient(ctx, id)
	}
	now := time.Now()
	c.mu.RLock()
	e, ok := c.entries[id]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return cloneClient(e.client), nil
	}
	cl, err := c.Store.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return cl, nil
	}
	if _, known := c.entries[id]; !known && len(c.entries) >= maxCachedClients {
		c.dropExpired(now)
		if len(c.entries) >= maxCachedClients {
			clear(c.entries)
		}
	}
	c.entries[id] = cachedClient{client: cloneClient(cl), expires: now.Add(c.ttl)}
	return cl, nil
}

// dropExpired deletes the entries past their TTL; c.mu is held.
func (c *clientCache) dropExpired(now time.Time) {
	for id, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, id)
		}
	}
}

// CreateClient implements Store. A client deleted elsewhere and created again
// here under the same ID must not be served as the old one.
func (c *clientCache) CreateClient(ctx context.Context, cl *Client) error {
	err := c.Store.CreateClient(ctx, cl)
	c.forgetAfterWrite(ctx, cl.ID)
	return err
}

// UpdateClient implements Store.
func (c *clientCache) UpdateClient(ctx context.Context, cl *Client) error {
	err := c.Store.UpdateClient(ctx, cl)
	c.forgetAfterWrite(ctx, cl.ID)
	return err
}

// DeleteClient implements Store.
func (c *clientCache) DeleteClient(ctx context.Context, id string) error {
	err := c.Store.DeleteClient(ctx, id)
	c.forgetAfterWrite(ctx, id)
	return err
}

// BeginTx implements Store; the context remembers the clients the
// transaction writes, so that Commit can forget them. A transaction begun
// inside another (a savepoint) shares the outer one's list: only the outer
// commit makes the writes visible.
func (c *clientCache) BeginTx(ctx context.Context) (context.Context, error) {
	txCtx, err := c.Store.BeginTx(ctx)
	if err != nil {
		return txCtx, err
	}
	if _, nested := ctx.Value(clientWritesKey{}).(*clientWrites); nested {
		return txCtx, nil
	}
	return context.WithValue(txCtx, clientWritesKey{}, &clientWrites{}), nil
}

// Commit implements Store. The clients written are forgotten after the
// commit: a GetClient between the write and the commit still reads, and
// may cache, the row as it was.
func (c *clientCache) Commit(ctx context.Context) error {
	err := c.Store.Commit(ctx)
	if w, ok := ctx.Value(clientWritesKey{}).(*clientWrites); ok {
		w.mu.Lock()
		for _, id := range w.ids {
			c.forget(id)
		}
		w.mu.Unlock()
	}
	return err
}

type clientWritesKey struct{}

type clientWrites struct {
	mu  sync.Mutex
	ids []string
}

// forgetAfterWrite forgets id now and, inside a transaction, once more
// when it commits.
func (c *clientCache) forgetAfterWrite(ctx context.Context, id string) {
	c.forget(id)
	if w, ok := ctx.Value(clientWritesKey{}).(*clientWrites); ok {
		w.mu.Lock()
		w.ids = append(w.ids, id)
		w.mu.Unlock()
	}
}

func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.gen++
	c.mu.Unlock()
}

func cloneClient(c *Client) *Client {
	cp := *c
	cp.SecretHash = slices.Clone(c.SecretHash)
	cp.RedirectURIs = slices.Clone(c.RedirectURIs)
	cp.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	cp.GrantTypes = slices.Clone(c.GrantTypes)
	cp.Scopes = slices.Clone(c.Scopes)
	cp.Audiences = slices.Clone(c.Audiences)
	return &cp
}
