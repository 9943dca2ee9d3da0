package server

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/authz/authz/internal/metrics"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/store/sqlite"
)

// tokenRoute is the pattern whose successful answers count as issued tokens.
const tokenRoute = "POST /oauth2/token"

// loginSteps maps the pipeline's form routes to the login method they check;
// their answers' statuses tell the outcome (see metrics.StepOutcome).
var loginSteps = map[string]string{
	"POST /login/password": metrics.MethodPassword,
	"POST /login/otp":      metrics.MethodOTP,
	"POST /login/enroll":   metrics.MethodOTPEnroll,
	// The upstream provider's answer: redirected on, or 502 with the reason.
	"GET /login/upstream/{alias}/callback": metrics.MethodFederated,
}

// grantTypes bounds the grant_type label: the value comes from the client.
var grantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}

// routeInfo carries what only the innermost handler can see (the pattern the
// mux matched, the parsed form) out to instrument, which sees every request,
// including those the middleware in between refuses. The middleware in between
// replaces the *http.Request, so r.Pattern cannot be read from the outside.
type routeInfo struct {
	pattern   string
	grantType string
}

type routeKey struct{}

// instrument records the duration of every request by route and status, and
// the events a status tells: tokens issued, login step outcomes. It also puts
// the Recorder into the context for the handlers' own events.
func (a *App) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &routeInfo{}
		ctx := metrics.NewContext(context.WithValue(r.Context(), routeKey{}, info), a.Metrics)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		a.Metrics.ObserveRequest(info.pattern, status, time.Since(start))
		if method, ok := loginSteps[info.pattern]; ok {
			a.Metrics.Login(method, metrics.StepOutcome(status))
		}
		if info.pattern == tokenRoute && status == http.StatusOK {
			a.Metrics.TokenIssued(info.grantType)
		}
	})
}

// recordRoute wraps the mux and copies what routing and the handler left on
// the request into the routeInfo of instrument; deferred, so a panicking
// handler is still counted under its route.
func recordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			info, ok := r.Context().Value(routeKey{}).(*routeInfo)
			if !ok {
				return
			}
			info.pattern = r.Pattern
			if r.Pattern == tokenRoute {
				info.grantType = "other"
				if g := r.PostForm.Get("grant_type"); slices.Contains(grantTypes, g) {
					info.grantType = g
				}
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// poolStats returns a function reading the connection pool statistics of st,
// or nil for a backend that has none to tell.
func poolStats(st store.Store) func() []metrics.PoolStats {
	switch s := st.(type) {
	case *postgres.Store:
		return func() []metrics.PoolStats {
			p := s.Pool().Stat()
			return []metrics.PoolStats{{
				Pool: "postgres", InUse: int(p.AcquiredConns()), Idle: int(p.IdleConns()), Max: int(p.MaxConns()),
				Waits: p.EmptyAcquireCount(), WaitTime: p.EmptyAcquireWaitTime(),
			}}
		}
	case *sqlite.Store:
		return func() []metrics.PoolStats {
			w, r := s.Stats()
			return []metrics.PoolStats{
				{Pool: "write", InUse: w.InUse, Idle: w.Idle, Max: w.MaxOpenConnections, Waits: w.WaitCount, WaitTime: w.WaitDuration},
				{Pool: "read", InUse: r.InUse, Idle: r.Idle, Max: r.MaxOpenConnections, Waits: r.WaitCount, WaitTime: r.WaitDuration},
			}
		}
	}
	return nil
}

// newRecorder builds the App's metrics, with the store's pool statistics.
func newRecorder(st store.Store) *metrics.Recorder {
	rec := metrics.New()
	if stats := poolStats(st); stats != nil {
		// A fresh registry cannot hold a duplicate: Register does not fail here.
		_ = rec.Register(metrics.NewPoolCollector(stats))
	}
	return rec
}
