package oauth

import (
	"sync"
	"time"
)

// testClock is a clock that tests move by hand: the refresh grace's, and the
// one the KeySets of several replicas share.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
