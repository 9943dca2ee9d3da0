package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, r *Recorder) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestRecorderExportsEverything(t *testing.T) {
	r := New()
	r.ObserveRequest("POST /oauth2/token", 200, 3*time.Millisecond)
	r.ObserveRequest("", 404, time.Millisecond)
	r.Login(MethodPassword, OutcomeFailure)
	r.TokenIssued("client_credentials")
	r.OTPFailed(false)
	r.OTPFailed(true)
	if err := r.Register(NewPoolCollector(func() []PoolStats {
		return []PoolStats{{Pool: "postgres", InUse: 2, Idle: 1, Max: 8, Waits: 5, WaitTime: 1500 * time.Millisecond}}
	})); err != nil {
		t.Fatal(err)
	}
	out := scrape(t, r)
	for _, want := range []string{
		`authz_http_request_duration_seconds_count{route="POST /oauth2/token",status="200"} 1`,
		`authz_http_request_duration_seconds_count{route="unmatched",status="404"} 1`,
		`authz_logins_total{method="pwd",outcome="failure"} 1`,
		`authz_tokens_issued_total{grant_type="client_credentials"} 1`,
		`authz_otp_failures_total 2`,
		`authz_otp_lockouts_total 1`,
		`authz_store_pool_connections{pool="postgres",state="in_use"} 2`,
		`authz_store_pool_connections{pool="postgres",state="max"} 8`,
		`authz_store_pool_waits_total{pool="postgres"} 5`,
		`authz_store_pool_wait_seconds_total{pool="postgres"} 1.5`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestStepOutcome(t *testing.T) {
	for status, want := range map[int]string{
		303: OutcomeSuccess, 302: OutcomeSuccess, 401: OutcomeFailure, 502: OutcomeFailure, 429: OutcomeLocked,
		503: OutcomeUnavailable, 500: OutcomeError, 400: OutcomeRejected, 403: OutcomeRejected,
	} {
		if got := StepOutcome(status); got != want {
			t.Errorf("StepOutcome(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestFromWithoutRecorderIsANoOp(t *testing.T) {
	ev := From(context.Background())
	ev.Login(MethodOTP, OutcomeSuccess)
	ev.OTPFailed(true)
	ev.TokenIssued("refresh_token")
	r := New()
	if got := From(NewContext(context.Background(), r)); got != Events(r) {
		t.Errorf("From returned %v, want the recorder", got)
	}
}

// Two recorders in one process (two servers in one test) must not collide.
func TestTwoRecorders(t *testing.T) {
	a, b := New(), New()
	a.TokenIssued("client_credentials")
	if strings.Contains(scrape(t, b), "authz_tokens_issued_total{") {
		t.Error("a token counted on one recorder shows on the other")
	}
}
