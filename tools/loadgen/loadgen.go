// Package loadgen drives a running authz over HTTP the way relying parties
// and browsers do, with N concurrent workers for a fixed time, and reports
// operations per second, latency percentiles and errors. tools/authz-load is its
// command line; the benchmarks and tests call it directly.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario names.
const (
	ClientCredentials = "client-credentials"
	// ClientCredentialsJWT is ClientCredentials for a client whose access
	// tokens are JWTs (RFC 9068): one signature per operation.
	ClientCredentialsJWT = "client-credentials-jwt"
	Introspect           = "introspect"
	Refresh              = "refresh"
	Login                = "login"
)

// Scenarios lists every scenario, in the order help texts show them.
var Scenarios = []string{ClientCredentials, ClientCredentialsJWT, Introspect, Refresh, Login}

// MaxDuration bounds a run: this is a benchmark, not a soak test.
const MaxDuration = time.Hour

// Options configure one run.
type Options struct {
	Target   string // the issuer URL of the server under test
	Scenario string
	Workers  int
	Duration time.Duration
	// Rate caps the operations per second of all workers together; 0 means
	// as fast as the server answers.
	Rate float64
	Seed *SeedFile
	// Timeout bounds one HTTP request; 0 means 10 s.
	Timeout time.Duration
}

// UsageError is a bad option: the command line exits with status 2 for it.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// Validate checks the options that need no network.
func (o *Options) Validate() error {
	if err := o.ValidateSettings(); err != nil {
		return err
	}
	if o.Seed == nil {
		return usageErrorf("no seed file: run authz-load seed first")
	}
	if o.Scenario == ClientCredentialsJWT && o.Seed.JWTMachine.ID == "" {
		return usageErrorf("the %s scenario needs a seed file with a JWT client: seed again", o.Scenario)
	}
	if (o.Scenario == Login || o.Scenario == Refresh) && len(o.Seed.Users) == 0 {
		return usageErrorf("the %s scenario needs seeded users", o.Scenario)
	}
	return nil
}

// ValidateSettings checks everything but the seed, so that a typo on the
// command line is reported before a missing seed file.
func (o *Options) ValidateSettings() error {
	u, err := url.Parse(o.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return usageErrorf("bad target %q: want the server's issuer URL, such as http://127.0.0.1:8080", o.Target)
	}
	if !slices.Contains(Scenarios, o.Scenario) {
		return usageErrorf("unknown scenario %q: want one of %s", o.Scenario, strings.Join(Scenarios, ", "))
	}
	if o.Duration <= 0 || o.Duration > MaxDuration {
		return usageErrorf("bad duration %s: want more than 0 and at most %s", o.Duration, MaxDuration)
	}
	if o.Workers < 1 || o.Workers > 10000 {
		return usageErrorf("bad worker count %d: want 1 to 10000", o.Workers)
	}
	if o.Rate < 0 {
		return usageErrorf("bad rate %g: want 0 (unlimited) or more", o.Rate)
	}
	return nil
}

// op is one unit of work of a scenario: a request, or a whole login journey.
type op func(ctx context.Context) error

// scenario prepares a worker and returns its operation.
type scenario func(ctx context.Context, env *env) (op, error)

// env is what every worker of a run shares.
type env struct {
	opts   Options
	target string // without a trailing slash
	client *http.Client
	users  *userPool
	oidc   *oidcVerifier
	conns  []*directConn // the workers' own connections
}

// Run performs one load run. Setup (tokens to introspect, refresh tokens) is
// done before the clock starts and is not measured.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	e, err := newEnv(ctx, o)
	if err != nil {
		return nil, err
	}
	defer e.client.CloseIdleConnections()
	defer func() {
		for _, d := range e.conns {
			d.close()
		}
	}()
	ops, err := setupWorkers(ctx, e)
	if err != nil {
		return nil, err
	}
	return e.drive(ctx, ops), nil
}

func newEnv(ctx context.Context, o Options) (*env, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	tr := &http.Transport{
		Proxy:               nil, // the target is local: never a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.Workers * 2,
		MaxIdleConnsPerHost: o.Workers * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	e := &env{opts: o, target: strings.TrimRight(o.Target, "/"), client: &http.Client{Transport: tr, Timeout: o.Timeout}}
	if err := e.probe(ctx); err != nil {
		return nil, err
	}
	if o.Scenario == Login || o.Scenario == Refresh {
		e.users = newUserPool(o.Seed.Users)
		v, err := newOIDCVerifier(ctx, e)
		if err != nil {
			return nil, err
		}
		e.oidc = v
	}
	return e, nil
}

// probe fails early, with a clear message, when nothing answers at the target
// or what answers is not an OpenID provider.
func (e *env) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.target+"/.well-known/openid-configuration", nil)
	if err != nil {
		return usageErrorf("bad target %q: %v", e.opts.Target, err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return usageErrorf("target %s is not reachable: %v", e.opts.Target, err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return usageErrorf("target %s is not an authz server: discovery answered %s", e.opts.Target, resp.Status)
	}
	return nil
}

func setupWorkers(ctx context.Context, e *env) ([]op, error) {
	build := map[string]scenario{
		ClientCredentials:    clientCredentials,
		ClientCredentialsJWT: clientCredentialsJWT,
		Introspect:           introspect,
		Refresh:              refresh,
		Login:                loginJourney,
	}[e.opts.Scenario]
	ops := make([]op, e.opts.Workers)
	for i := range ops {
		o, err := build(ctx, e)
		if err != nil {
			return nil, fmt.Errorf("set up worker %d: %w", i+1, err)
		}
		ops[i] = o
	}
	return ops, nil
}

// drive runs every worker until the duration is over and gathers the results.
func (e *env) drive(ctx context.Context, ops []op) *Report {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Duration)
	defer cancel()
	pace := newPacer(e.opts.Rate)
	results := make([]workerResult, len(ops))
	var wg sync.WaitGroup
	start := time.Now()
	for i, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = work(ctx, o, pace)
		}()
	}
	wg.Wait()
	r := newReport(e.opts, time.Since(start), results)
	if e.users != nil {
		r.UserWaits = e.users.waits.Load()
	}
	return r
}

// workerResult is what one worker measured.
type workerResult struct {
	latencies []time.Duration // of successful operations
	errors    map[string]int
}

func work(ctx context.Context, o op, pace *pacer) workerResult {
	res := workerResult{errors: map[string]int{}}
	for {
		if !pace.wait(ctx) {
			return res
		}
		t := time.Now()
		err := o(ctx)
		if ended(ctx) {
			// Cut off by the end of the run: neither a success nor a failure.
			return res
		}
		if err != nil {
			res.errors[errorKind(err)]++
			continue
		}
		res.latencies = append(res.latencies, time.Since(t))
	}
}

// ended reports whether the run is over. Its deadline can pass a moment
// before ctx says so, and an operation failing in that moment (a dial
// refused for want of time) is no failure of the server's.
func ended(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}

// pacer hands out start times at a fixed rate shared by all workers; without
// a rate it lets every worker go at once.
type pacer struct {
	start    time.Time
	interval time.Duration
	next     atomic.Int64
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{start: time.Now(), interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's slot comes; false when ctx ended first.
func (p *pacer) wait(ctx context.Context) bool {
	if p == nil {
		return ctx.Err() == nil
	}
	at := p.start.Add(time.Duration(p.next.Add(1)-1) * p.interval)
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// StatusError is an answer with an unexpected status.
type StatusError struct {
	Step   string // such as "POST /oauth2/token"
	Status int
	Detail string // the OAuth error code, when the body had one
}

func (e *StatusError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %d %s", e.Step, e.Status, e.Detail)
	}
	return fmt.Sprintf("%s: %d", e.Step, e.Status)
}

// errorKind groups errors for the report: by step and status, or by the
// kind of network failure, never by anything unique to one request.
func errorKind(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Error()
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne):
		var oe *net.OpError
		if errors.As(err, &oe) {
			return "network: " + oe.Op + ": " + oe.Err.Error()
		}
		return "network error"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "…"
	}
	return msg
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted d.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}
