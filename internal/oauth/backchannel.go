package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/randtoken"
	"github.com/authz/authz/internal/store"
)

// OpenID Connect Back-Channel Logout 1.0. Ending a browser session (the
// store's DeleteSession and DeleteUserSessions) queues, in the same
// transaction, a delivery to every client that got tokens in the session and
// registered a backchannel_logout_uri. A Backchannel on each replica claims
// due deliveries with a lease, so two replicas never send one, and a replica
// that stops mid-way leaves them to another once the lease ends. The user's
// logout never waits for a relying party.

// logoutEvent is the events member of a logout token (§2.4).
const logoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// typLogoutToken is the JWT typ of logout tokens (§2.4).
const typLogoutToken = "logout+jwt"

const (
	// logoutTimeout bounds one delivery: a slow relying party costs this
	// much of one worker, never the user's logout.
	logoutTimeout = 5 * time.Second
	// logoutLease is how long a claimed delivery is this replica's; longer
	// than a delivery can take.
	logoutLease = 30 * time.Second
	// logoutAttempts is how many times a delivery is tried before it is
	// given up (and audited).
	logoutAttempts = 4
	// logoutPoll is how often a replica looks for deliveries it was not
	// told about (queued by another replica or the CLI, or due for retry).
	logoutPoll = 2 * time.Second
	// logoutBatch and logoutWorkers bound the work of one round.
	logoutBatch   = 32
	logoutWorkers = 4
	// logoutTokenTTL is the logout token's lifetime (exp - iat).
	logoutTokenTTL = 2 * time.Minute
)

// logoutBackoff is the wait after failed attempt n (1-based).
func logoutBackoff(n int) time.Duration {
	return min(5*time.Second<<(2*(n-1)), 10*time.Minute) // 5 s, 20 s, 80 s, ...
}

// LogoutCounter counts deliveries by outcome: delivered, retried (a failed
// attempt that will be tried again), failed (given up), dropped (the client
// is gone or no longer wants them). *metrics.Recorder implements it.
type LogoutCounter interface {
	BackchannelLogout(outcome string)
}

// Backchannel delivers queued back-channel logouts.
type Backchannel struct {
	Store  store.Store
	Keys   *KeySet
	Issuer string
	Log    *slog.Logger
	// Client sends the logout tokens; nil means one with logoutTimeout and
	// no redirects followed.
	Client *http.Client
	// Counter counts outcomes; nil counts nothing.
	Counter LogoutCounter
	// Now is the clock of leases and retries; nil means time.Now.
	Now func() time.Time

	kickOnce sync.Once
	kick     chan struct{}
}

func (b *Backchannel) now() time.Time {
	if b.Now != nil {
		return b.Now().UTC()
	}
	return time.Now().UTC()
}

func (b *Backchannel) kicks() chan struct{} {
	b.kickOnce.Do(func() { b.kick = make(chan struct{}, 1) })
	return b.kick
}

// Kick asks the worker to look for deliveries now; it never blocks.
func (b *Backchannel) Kick() {
	if b == nil {
		return
	}
	select {
	case b.kicks() <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: at once when kicked, else every logoutPoll.
func (b *Backchannel) Run(ctx context.Context) {
	t := time.NewTicker(logoutPoll)
	defer t.Stop()
	for {
		for b.DeliverDue(ctx) == logoutBatch {
			// A full batch: there may be more.
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.kicks():
		}
	}
}

// DeliverDue claims the deliveries due now, at most logoutBatch, makes one
// attempt at each, and returns how many it claimed.
func (b *Backchannel) DeliverDue(ctx context.Context) int {
	now := b.now()
	ds, err := b.Store.ClaimLogouts(ctx, now, now.Add(logoutLease), logoutBatch)
	if err != nil {
		if ctx.Err() == nil {
			b.Log.WarnContext(ctx, "back-channel logout: claim deliveries", "err", err)
		}
		return 0
	}
	work := make(chan *store.LogoutDelivery)
	var wg sync.WaitGroup
	for range min(logoutWorkers, len(ds)) {
		wg.Go(func() {
			for d := range work {
				b.attempt(ctx, d)
			}
		})
	}
	for _, d := range ds {
		work <- d
	}
	close(work)
	wg.Wait()
	return len(ds)
}

// errNoLongerWanted is a delivery whose client is gone, disabled or no
// longer has a back-channel logout URI.
var errNoLongerWanted = errors.New("the client no longer takes back-channel logouts")

func (b *Backchannel) attempt(ctx context.Context, d *store.LogoutDelivery) {
	err := b.send(ctx, d)
	switch {
	case err == nil:
		b.finish(ctx, d, "delivered")
	case errors.Is(err, errNoLongerWanted):
		b.finish(ctx, d, "dropped")
	case ctx.Err() != nil:
		// Shutting down: the lease runs out and another replica, or this
		// one after a restart, tries again.
	case d.Attempts+1 >= logoutAttempts:
		b.Log.WarnContext(ctx, "back-channel logout: given up", "client", d.ClientID, "attempts", d.Attempts+1, "err", err)
		audit.Record(ctx, b.Store, b.Log, &store.AuditEvent{Time: b.now(), Type: string(audit.BackchannelLogoutFailed),
			UserID: d.UserID, ClientID: d.ClientID, Detail: truncate(err.Error(), 200)})
		b.finish(ctx, d, "failed")
	default:
		d.Attempts++
		d.NextAttemptAt = b.now().Add(logoutBackoff(d.Attempts))
		d.LastError = truncate(err.Error(), 200)
		if err := b.Store.RetryLogout(ctx, d); err != nil && !errors.Is(err, store.ErrNotFound) {
			b.Log.WarnContext(ctx, "back-channel logout: reschedule", "err", err)
		}
		b.count("retried")
	}
}

func (b *Backchannel) finish(ctx context.Context, d *store.LogoutDelivery, outcome string) {
	if err := b.Store.CompleteLogout(ctx, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		b.Log.WarnContext(ctx, "back-channel logout: complete", "err", err)
	}
	b.count(outcome)
}

func (b *Backchannel) count(outcome string) {
	if b.Counter != nil {
		b.Counter.BackchannelLogout(outcome)
	}
}

// send makes one delivery attempt: a logout token POSTed to the client's
// back-channel logout URI, answered 200 or 204 (§2.8).
func (b *Backchannel) send(ctx context.Context, d *store.LogoutDelivery) error {
	c, err := b.Store.GetClient(ctx, d.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNoLongerWanted
	case err != nil:
		return err
	case c.Disabled || c.BackchannelLogoutURI == "":
		return errNoLongerWanted
	}
	// Signed as the client's ID tokens are (Back-Channel Logout §2.4).
	token, err := b.LogoutToken(withSigningAlg(ctx, c.IDTokenAlg), d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, logoutTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return fmt.Errorf("back-channel logout URI: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client().Do(req)
	if err != nil {
		return fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func (b *Backchannel) client() *http.Client {
	if b.Client != nil {
		return b.Client
	}
	return defaultLogoutClient
}

// defaultLogoutClient follows no redirects: the relying party registered
// the URI that gets the token, and no other.
var defaultLogoutClient = &http.Client{
	Timeout:       logoutTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// logoutClaims are the claims of a logout token (§2.4): no nonce.
type logoutClaims struct {
	Issuer   string                    `json:"iss"`
	Audience string                    `json:"aud"`
	IssuedAt int64                     `json:"iat"`
	Expiry   int64                     `json:"exp"`
	ID       string                    `json:"jti"`
	Subject  string                    `json:"sub"`
	SID      string                    `json:"sid"`
	Events   map[string]map[string]any `json:"events"`
}

// LogoutToken signs the logout token of d.
func (b *Backchannel) LogoutToken(ctx context.Context, d *store.LogoutDelivery) (string, error) {
	now := time.Now()
	claims, err := json.Marshal(logoutClaims{
		Issuer: b.Issuer, Audience: d.ClientID, IssuedAt: now.Unix(), Expiry: now.Add(logoutTokenTTL).Unix(),
		ID: randtoken.New(16), Subject: d.UserID, SID: d.SID,
		Events: map[string]map[string]any{logoutEvent: {}},
	})
	if err != nil {
		return "", err
	}
	return b.Keys.sign(ctx, claims, typLogoutToken)
}
