package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/authz/authz/internal/store"
)

// maxTokenBatch bounds how many token inserts share one commit.
const maxTokenBatch = 64

// errClosed answers a write that reaches a closed store (a server shutting
// down): unavailable, so the client is told to come back.
var errClosed = fmt.Errorf("sqlite: store closed: %w", store.ErrUnavailable)

// A token insert outside a transaction (a client_credentials token; an
// authorization code's records go in CreateTokens' transaction, code
// exchanges and refreshes in fosite's) waits for the single write connection anyway. The token
// batcher commits the inserts that queued up while the connection was busy
// together, in one transaction: a commit's WAL writes and locks were two
// thirds of an insert's cost, and the rows of one batch share the pages they
// append to. Each insert still succeeds or fails on its own: a constraint
// error aborts only its statement, and the transaction goes on.
type tokenBatcher struct {
	queue     chan pendingToken
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
	// committed is called with each batch's size once it is committed; tests
	// set it.
	committed func(n int)
}

type pendingToken struct {
	ctx    context.Context
	token  *store.OAuthToken
	result chan error
}

func newTokenBatcher() *tokenBatcher {
	return &tokenBatcher{queue: make(chan pendingToken, maxTokenBatch), closing: make(chan struct{}), done: make(chan struct{})}
}

// insert queues t and waits for its commit. The wait ends early when ctx
// does; the insert may then still be committed, which leaves an unused token
// for the janitor.
func (b *tokenBatcher) insert(ctx context.Context, t *store.OAuthToken) error {
	p := pendingToken{ctx: context.WithoutCancel(ctx), token: t, result: make(chan error, 1)}
	select {
	case b.queue <- p:
	case <-b.closing:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.result:
		return err
	case <-b.done:
		// run has stopped: it answered p before, or never will.
		select {
		case err := <-p.result:
			return err
		default:
			return errClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run commits batches until close; s gives it the connection and statements.
func (b *tokenBatcher) run(s *Store) {
	defer close(b.done)
	for {
		select {
		case <-b.closing:
			b.drainClosed()
			return
		case first := <-b.queue:
			// The first insert woke this goroutine at once, while the
			// requests right behind it are still runnable on their way
			// here. Letting them run first doubled the inserts per commit
			// with eight clients (1.6 to 3.3) and took a tenth off a
			// client-credentials token's CPU; with nothing else runnable
			// it returns at once.
			runtime.Gosched()
			batch := b.gather(first)
			b.commit(s, batch)
		}
	}
}

// gather adds to first whatever is already queued, up to maxTokenBatch.
func (b *tokenBatcher) gather(first pendingToken) []pendingToken {
	batch := []pendingToken{first}
	for len(batch) < maxTokenBatch {
		select {
		case p := <-b.queue:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

func (b *tokenBatcher) commit(s *Store, batch []pendingToken) {
	errs := make([]error, len(batch))
	err := s.inTx(batch[0].ctx, func(q querier) error {
		for i, p := range batch {
			errs[i] = insertToken(p.ctx, q, p.token)
			// A conflict aborts only its statement. Any other error
			// (a full disk, I/O) may have rolled the whole transaction
			// back, after which SQLite would commit each later insert on
			// its own: the batch fails as one instead.
			if errs[i] != nil && !errors.Is(errs[i], store.ErrConflict) {
				return errs[i]
			}
		}
		return nil
	})
	for i, p := range batch {
		if err != nil {
			p.result <- err
		} else {
			p.result <- errs[i]
		}
	}
	if err == nil && b.committed != nil {
		b.committed(len(batch))
	}
}

// drainClosed fails what was queued before close.
func (b *tokenBatcher) drainClosed() {
	for {
		select {
		case p := <-b.queue:
			p.result <- errClosed
		default:
			return
		}
	}
}

// close stops run once the batch it is committing is done.
func (b *tokenBatcher) close() error {
	b.closeOnce.Do(func() { close(b.closing) })
	<-b.done
	return nil
}
