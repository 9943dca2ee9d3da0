// Package metrics exports authz's Prometheus metrics: request durations by
// route and status, logins by method and outcome, one-time-code failures and
// lockouts, tokens issued by grant type, store connection pools, and the Go
// runtime.
//
// Each App owns one Recorder with a registry of its own, so two servers in one
// process (the scale-out tests) never collide. The server's middleware puts
// the Recorder into every request's context; the login, oauth and federation
// packages report events through From(ctx), which is a no-op outside a request.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Login methods and outcomes used as label values.
const (
	MethodPassword  = "pwd"
	MethodOTP       = "otp"
	MethodOTPEnroll = "otp-enroll"
	MethodFederated = "fed"

	OutcomeSuccess     = "success"
	OutcomeFailure     = "failure"
	OutcomeLocked      = "locked"
	OutcomeUnavailable = "unavailable"
	OutcomeRejected    = "rejected"
	OutcomeError       = "error"
)

// Events is what request handlers report. It is deliberately tiny so that
// packages depend on this interface, not on Prometheus.
type Events interface {
	// Login counts one attempt at a login step.
	Login(method, outcome string)
	// OTPFailed counts a wrong or replayed one-time code; startedLock tells
	// that this failure locked the user out. A code refused because the user
	// was already locked is not reported: it was not judged.
	OTPFailed(startedLock bool)
	// TokenIssued counts one successful token response.
	TokenIssued(grantType string)
	// WebAuthn counts one WebAuthn ceremony (CeremonyRegister or
	// CeremonyLogin) that was answered, by outcome (success, failure,
	// expired, counter).
	WebAuthn(ceremony, outcome string)
}

// WebAuthn ceremonies and the outcomes particular to them.
const (
	CeremonyRegister = "register"
	CeremonyLogin    = "login"
	// OutcomeExpired is a ceremony answered after its challenge expired.
	OutcomeExpired = "expired"
	// OutcomeCounter is an assertion whose signature counter did not grow:
	// a cloned authenticator, or a replay.
	OutcomeCounter = "counter"
)

// durationBuckets resolve the token endpoint's milliseconds as well as the
// login pages' password hashing.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Recorder holds authz's metrics and the registry that serves them.
type Recorder struct {
	reg         *prometheus.Registry
	requests    *prometheus.HistogramVec
	logins      *prometheus.CounterVec
	otpFailures prometheus.Counter
	otpLockouts prometheus.Counter
	tokens      *prometheus.CounterVec
	logouts     *prometheus.CounterVec
	webauthn    *prometheus.CounterVec
}

var _ Events = (*Recorder)(nil)

// New returns a Recorder with the Go runtime and process collectors
// registered.
func New() *Recorder {
	r := &Recorder{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authz_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status code.",
			Buckets: durationBuckets,
		}, []string{"route", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_logins_total",
			Help: "Login step attempts, by method (pwd, otp, otp-enroll, fed) and outcome.",
		}, []string{"method", "outcome"}),
		otpFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authz_otp_failures_total",
			Help: "Wrong or replayed one-time codes.",
		}),
		otpLockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authz_otp_lockouts_total",
			Help: "One-time-code failures that locked a user out.",
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_tokens_issued_total",
			Help: "Successful token endpoint responses, by grant type.",
		}, []string{"grant_type"}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_backchannel_logouts_total",
			Help: "Back-channel logout delivery attempts, by outcome (delivered, retried, failed, dropped).",
		}, []string{"outcome"}),
		webauthn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_webauthn_ceremonies_total",
			Help: "WebAuthn ceremonies answered, by ceremony (register, login) and outcome (success, failure, expired, counter).",
		}, []string{"ceremony", "outcome"}),
	}
	r.reg.MustRegister(r.requests, r.logins, r.otpFailures, r.otpLockouts, r.tokens, r.logouts, r.webauthn,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Register adds a collector, such as a store pool collector, to the registry.
func (r *Recorder) Register(c prometheus.Collector) error {
	return r.reg.Register(c)
}

// Handler serves the registry in the Prometheus exposition format.
func (r *Recorder) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// ObserveRequest records one answered request. route is the ServeMux pattern,
// never the raw path, so that the number of series stays bounded.
func (r *Recorder) ObserveRequest(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	r.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

// Login implements Events.
func (r *Recorder) Login(method, outcome string) {
	r.logins.WithLabelValues(method, outcome).Inc()
}

// OTPFailed implements Events.
func (r *Recorder) OTPFailed(startedLock bool) {
	r.otpFailures.Inc()
	if startedLock {
		r.otpLockouts.Inc()
	}
}

// TokenIssued implements Events.
func (r *Recorder) TokenIssued(grantType string) {
	r.tokens.WithLabelValues(grantType).Inc()
}

// BackchannelLogout counts one back-channel logout attempt by outcome.
func (r *Recorder) BackchannelLogout(outcome string) {
	r.logouts.WithLabelValues(outcome).Inc()
}

// WebAuthn implements Events.
func (r *Recorder) WebAuthn(ceremony, outcome string) {
	r.webauthn.WithLabelValues(ceremony, outcome).Inc()
}

// StepOutcome maps the status of a login step's answer to an outcome: the
// pipeline redirects after a step passed and answers 401, 429 or 503 with the
// form again when it did not; an upstream login it refuses is a 502.
func StepOutcome(status int) string {
	switch {
	case status >= 300 && status < 400:
		return OutcomeSuccess
	case status == http.StatusUnauthorized, status == http.StatusBadGateway:
		return OutcomeFailure
	case status == http.StatusTooManyRequests:
		return OutcomeLocked
	case status == http.StatusServiceUnavailable:
		return OutcomeUnavailable
	case status >= 500:
		return OutcomeError
	}
	return OutcomeRejected
}

type ctxKey struct{}

// NewContext returns ctx carrying ev for From.
func NewContext(ctx context.Context, ev Events) context.Context {
	return context.WithValue(ctx, ctxKey{}, ev)
}

// From returns the Events of ctx, or a no-op when there are none (tests, CLI
// commands), so callers never check.
func From(ctx context.Context) Events {
	if ev, ok := ctx.Value(ctxKey{}).(Events); ok {
		return ev
	}
	return nop{}
}

type nop struct{}

func (nop) Login(string, string)    {}
func (nop) OTPFailed(bool)          {}
func (nop) TokenIssued(string)      {}
func (nop) WebAuthn(string, string) {}
