// Package storetest is the conformance suite for store.Store. Every backend
// runs it from its own tests:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newStore) }
//
// The suite is the executable form of the contract written in store.go; where
// that contract is silent, the rules the suite settles are listed on Run.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// Run runs the conformance suite against the backend that newStore makes.
// newStore must return a fresh, empty, migrated store and register its own
// cleanup with t; the suite calls it once for every leaf test, so tests never
// see each other's rows, and from parallel tests, so it must be safe for
// concurrent use.
//
// Besides what store.go states, the suite holds a backend to these rules:
//   - Get, Update and Delete of a missing row wrap store.ErrNotFound, also
//     when the key is text no row can hold (a NUL byte, invalid UTF-8); bulk
//     deletes (DeleteUserSessions, *TokensByRequest) of nothing succeed.
//   - Broken uniqueness wraps store.ErrConflict, and so does a conditional
//     update that finds the row in the wrong state.
//   - Every field round-trips. Times come back in UTC as the same instant to
//     the microsecond, the zero time as the zero time; nil and empty slices
//     are interchangeable.
//   - GetUserByEmail("") finds nobody, even when users without e-mail exist.
//   - CountUsers("") counts every user.
//   - ListUsers matches Query as plain text (no LIKE wildcards); ListUsers
//     and ListAudit read a zero Limit as 50. AuditFilter's Since is
//     inclusive, Until exclusive.
//   - An OAuthToken with a zero ExpiresAt never expires, nor does a signing
//     key with a zero RetireAt.
//   - DeleteExpired removes action tokens and idle throttles once they are
//     more than [Retention] past their expiry or last failure, everything
//     else once expired; a batch ≤ 0 means no limit.
//   - Concurrent writers lose nothing. A transaction that loses to a
//     concurrent one fails with store.ErrRetry, never ErrConflict, and
//     store.InTx runs it again; ErrConflict is only ever the answer about
//     the data (taken, already used) and is not retried.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	areas := []struct {
		name  string
		tests []test
	}{
		{"Users", userTests},
		{"OTPCredentials", otpTests},
		{"Throttles", throttleTests},
		{"Clients", clientTests},
		{"Sessions", sessionTests},
		{"LoginTransactions", loginTxTests},
		{"ActionTokens", actionTokenTests},
		{"SigningKeys", signingKeyTests},
		{"Providers", providerTests},
		{"FederatedIdentities", federatedTests},
		{"Consents", consentTests},
		{"Audit", auditTests},
		{"OAuthTokens", tokenTests},
		{"Transactions", txTests},
		{"Retry", retryTests},
		{"Expiry", expiryTests},
		{"Concurrency", concurrencyTests},
		{"RecoveryCodes", recoveryCodeTests},
		{"UserSessions", userSessionTests},
		{"Breadth", breadthTests},
		{"Pages", pageTests},
		{"WebAuthnCredentials", webauthnTests},
		{"RememberedBrowsers", rememberedTests},
	}
	// Every leaf test has a store of its own, so all of them run in parallel.
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range a.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, newStore(t))
				})
			}
		})
	}
	t.Run("ClientCache", func(t *testing.T) {
		t.Parallel()
		cached := func(t *testing.T) store.Store { return store.CacheClients(newStore(t), longTTL) }
		for _, tc := range slices.Concat(clientTests, txTests, retryTests) {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, cached(t))
			})
		}
		for _, tc := range cacheTests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				backend := newStore(t)
				tc.fn(t, backend, store.CacheClients(backend, longTTL))
			})
		}
	})
}

// Retention is the longest a backend may keep an expired action token or an
// idle throttle before DeleteExpired removes it. Keeping expired links a while
// lets the UI say "this link has expired" rather than "unknown link".
const Retention = 30 * 24 * time.Hour

// test is one leaf test; it gets a fresh store.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the suite's reference time: fixed so failures reproduce, with
// nanoseconds and a non-UTC zone so backends must truncate and normalise.
var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+2", 2*60*60))

// must fails the test at once on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// get takes a getter's results and returns a function that fails the test on
// error or else returns the value: get(s.GetUser(ctx, id))(t).
func get[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		must(t, err)
		return v
	}
}

// get2 is get for the list methods that also return a total.
func get2[T any](v T, n int, err error) func(t *testing.T) (T, int) {
	return func(t *testing.T) (T, int) {
		t.Helper()
		must(t, err)
		return v, n
	}
}

// same fails the test when got differs from want in any field, by the
// round-trip rules documented on Run.
func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := diff(reflect.ValueOf(want), reflect.ValueOf(got), ""); len(d) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

var timeType = reflect.TypeFor[time.Time]()

func diff(w, g reflect.Value, path string) []string {
	if w.Kind() == reflect.Pointer {
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				return []string{fmt.Sprintf("%s: want %v, got %v", path, w, g)}
			}
			return nil
		}
		return diff(w.Elem(), g.Elem(), path)
	}
	switch {
	case w.Type() == timeType:
		wt, gt := w.Interface().(time.Time), g.Interface().(time.Time)
		if !sameTime(wt, gt) {
			return []string{fmt.Sprintf("%s: want %v, got %v", path, wt, gt)}
		}
		if !gt.IsZero() && gt.Location() != time.UTC {
			return []string{fmt.Sprintf("%s: got %v, want it in UTC", path, gt)}
		}
	case w.Kind() == reflect.Struct:
		var out []string
		for i := range w.NumField() {
			out = append(out, diff(w.Field(i), g.Field(i), path+"."+w.Type().Field(i).Name)...)
		}
		return out
	case w.Kind() == reflect.Slice && w.Len() == 0 && g.Len() == 0:
	case !reflect.DeepEqual(w.Interface(), g.Interface()):
		return []string{fmt.Sprintf("%s: want %#v, got %#v", path, w.Interface(), g.Interface())}
	}
	return nil
}

// sameTime reports whether a and b are the same instant at the microsecond
// precision backends store; either rounding or truncation is accepted.
func sameTime(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
}

// complete fails the test when a fixture leaves a field at its zero value, so
// a field added to a domain type without a round-trip test fails loudly.
func complete(t *testing.T, v any) {
	t.Helper()
	rv := reflect.Indirect(reflect.ValueOf(v))
	for i := range rv.NumField() {
		if f := rv.Field(i); f.IsZero() || (f.Kind() == reflect.Slice && f.Len() == 0) {
			t.Fatalf("fixture %T leaves %s unset; the round trip would not cover it", v, rv.Type().Field(i).Name)
		}
	}
}

// sameList compares two lists element by element.
func sameList[T any](t *testing.T, what string, want, got []*T) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: got %d items, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		same(t, fmt.Sprintf("%s[%d]", what, i), want[i], got[i])
	}
}

// mkUser stores a complete user named name and returns it.
func mkUser(t *testing.T, s store.Store, name string) *store.User {
	t.Helper()
	u := fullUser(name)
	must(t, s.CreateUser(t.Context(), u))
	return u
}

// mkClient stores a complete client and returns it.
func mkClient(t *testing.T, s store.Store) *store.Client {
	t.Helper()
	c := fullClient()
	must(t, s.CreateClient(t.Context(), c))
	return c
}

// clone returns a shallow copy of *v, enough for fixtures whose slices are
// replaced rather than mutated.
func clone[T any](v *T) *T {
	c := *v
	return &c
}
