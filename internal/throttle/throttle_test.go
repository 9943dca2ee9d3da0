package throttle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authz/authz/internal/store/sqlite"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

func TestBackoffLockFor(t *testing.T) {
	b := OTP
	want := map[int]time.Duration{
		0: 0, 1: 0, 5: 0,
		6: 30 * time.Second, 7: time.Minute, 8: 2 * time.Minute, 9: 4 * time.Minute,
		10: 8 * time.Minute, 11: 15 * time.Minute, 12: 15 * time.Minute, 1 << 30: 15 * time.Minute,
	}
	for failures, d := range want {
		if got := b.LockFor(failures); got != d {
			t.Errorf("LockFor(%d) = %v, want %v", failures, got, d)
		}
	}
}

func TestBackoffEdgeCases(t *testing.T) {
	if d := (Backoff{}).LockFor(100); d != 0 {
		t.Errorf("zero Backoff locks for %v", d)
	}
	if d := (Backoff{Base: time.Minute}).LockFor(3); d != time.Minute {
		t.Errorf("Max below Base: LockFor = %v, want Base", d)
	}
	huge := Backoff{Base: time.Hour, Max: 1<<63 - 1}
	if d := huge.LockFor(1000); d <= 0 {
		t.Errorf("doubling overflowed to %v", d)
	}
}

func TestLockedErrorMatches(t *testing.T) {
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var err error = &LockedError{Until: until}
	if !errors.Is(err, ErrLocked) {
		t.Error("LockedError does not match ErrLocked")
	}
	var le *LockedError
	if !errors.As(err, &le) || !le.Until.Equal(until) {
		t.Error("errors.As lost Until")
	}
}

func TestAddressKeyGroupsIPv6By64(t *testing.T) {
	a, b := AddressKey("2001:db8:1:2::1"), AddressKey("2001:db8:1:2:ffff::9")
	if a != b {
		t.Errorf("one /64 gave two keys: %q, %q", a, b)
	}
	if AddressKey("2001:db8:1:3::1") == a {
		t.Error("another /64 shares the key")
	}
	if AddressKey("192.0.2.1") == AddressKey("192.0.2.2") {
		t.Error("two IPv4 addresses share a key")
	}
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st := sqlitetest.Open(t)
	return st
}

func TestChargeLocksAfterFreeAttempts(t *testing.T) {
	t.Parallel()
	st, ctx := openStore(t), context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b := Backoff{Free: 2, Base: time.Minute, Max: time.Hour}
	for i := range 3 {
		if _, err := b.Charge(ctx, st, "k", now); err != nil {
			t.Fatalf("attempt %d refused: %v", i+1, err)
		}
	}
	var le *LockedError
	if err := Check(ctx, st, "k", now); !errors.As(err, &le) || !le.Until.Equal(now.Add(time.Minute)) {
		t.Fatalf("after 3 failures with 2 free: Check = %v, want a lock until +1m", err)
	}
	if _, err := b.Charge(ctx, st, "k", now.Add(30*time.Second)); !errors.Is(err, ErrLocked) {
		t.Errorf("attempt during the lock: %v, want ErrLocked", err)
	}
	if err := Check(ctx, st, "k", now.Add(time.Minute)); err != nil {
		t.Errorf("lock outlived its end: %v", err)
	}
}

func TestCountAddressFailureStartsAgainAfterQuiet(t *testing.T) {
	t.Parallel()
	st, ctx := openStore(t), context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 3 {
		if err := CountAddressFailure(ctx, st, "192.0.2.7", now); err != nil {
			t.Fatal(err)
		}
	}
	th, _ := st.GetThrottle(ctx, AddressKey("192.0.2.7"))
	if th.Failures != 3 {
		t.Fatalf("failures = %d, want 3", th.Failures)
	}
	if err := CountAddressFailure(ctx, st, "192.0.2.7", now.Add(addressQuiet+time.Second)); err != nil {
		t.Fatal(err)
	}
	if th, _ = st.GetThrottle(ctx, AddressKey("192.0.2.7")); th.Failures != 1 {
		t.Errorf("after an hour of quiet: failures = %d, want 1", th.Failures)
	}
}

func TestCountRequestLimitsAFloodAndForgetsAfterQuiet(t *testing.T) {
	t.Parallel()
	st, ctx := openStore(t), context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b := Backoff{Free: 3, Base: 15 * time.Minute, Max: time.Hour}
	allow := func() bool {
		t.Helper()
		ok, err := CountRequest(ctx, st, "reset:alice", b, time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := range 4 {
		if !allow() {
			t.Fatalf("request %d refused; the first Free+1 go ahead (the last starts the lock)", i+1)
		}
	}
	for range 10 {
		if allow() {
			t.Fatal("a request during the lock went ahead")
		}
	}
	now = now.Add(16 * time.Minute)
	if !allow() {
		t.Fatal("the first request after the lock was refused")
	}
	if allow() {
		t.Fatal("the lock after it must be longer, and hold")
	}
	// A quiet period past the lock starts the count again.
	now = now.Add(2 * time.Hour)
	for i := range 3 {
		if !allow() {
			t.Fatalf("after a quiet hour, request %d refused", i+1)
		}
	}
	// Keys are independent.
	if ok, _ := CountRequest(ctx, st, "reset:bob", b, time.Hour, now); !ok {
		t.Error("another key was throttled")
	}
}

func TestResetKeys(t *testing.T) {
	addr, atAddr, acct := ResetKeys("User:ABC", "2001:db8::1")
	if addr != "reset|ip:2001:db8::/64" || atAddr != "reset:user:abc|ip:2001:db8::/64" || acct != "reset:user:abc" {
		t.Errorf("ResetKeys = %q, %q, %q", addr, atAddr, acct)
	}
}

// TestCountResetPerAddress: a flood of reset requests for one account from
// address A throttles A only: the account's owner at B still gets the
// e-mail, then, and after hours of A keeping at it. Once A is throttled its
// requests write nothing under the names it types.
func TestCountResetPerAddress(t *testing.T) {
	t.Parallel()
	st, ctx := openStore(t), context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	count := func(account, ip string) bool {
		t.Helper()
		ok, err := CountReset(ctx, st, account, ip, time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	sent := 0
	for range 10 {
		if count("user:victim", "203.0.113.1") {
			sent++
		}
	}
	if sent != ResetAccount.Free+1 {
		t.Fatalf("%d of a flood from one address went ahead, want %d", sent, ResetAccount.Free+1)
	}
	if !count("user:victim", "198.51.100.2") {
		t.Fatal("the owner at another address was throttled by a flood from one address")
	}
	// A keeps at it, a request a minute for six hours: the ceiling over all
	// addresses is never locked, and only A is throttled.
	_, _, overall := ResetKeys("user:victim", "")
	for i := range 6 * 60 {
		now = now.Add(time.Minute)
		count("user:victim", "203.0.113.1")
		if err := Check(ctx, st, overall, now); err != nil {
			t.Fatalf("after %d minutes of a flood from one address the account is throttled everywhere: %v", i+1, err)
		}
	}
	if !count("user:victim", "198.51.100.2") {
		t.Fatal("a patient flood from one address throttled the owner at another")
	}

	// A throttled address counts nothing under the names it types.
	for i := range ResetAddress.Free + 5 {
		count("name:n"+string(rune('a'+i)), "192.0.2.9")
	}
	_, atAddr, typed := ResetKeys("name:n"+string(rune('a'+ResetAddress.Free+4)), "192.0.2.9")
	for _, key := range []string{atAddr, typed} {
		if th, _ := st.GetThrottle(ctx, key); th.Failures != 0 {
			t.Errorf("a throttled address counted %d under %q", th.Failures, key)
		}
	}
}

// TestCountResetCeiling: requests for one account spread over many
// addresses stop at the ceiling over all addresses, for every address.
func TestCountResetCeiling(t *testing.T) {
	t.Parallel()
	st, ctx := openStore(t), context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sent := 0
	for i := range 10 {
		for range ResetAccount.Free {
			ok, err := CountReset(ctx, st, "user:victim", "203.0.113."+string(rune('0'+i)), time.Hour, now)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				sent++
			}
		}
	}
	if sent != ResetAccountOverall.Free+1 {
		t.Errorf("%d requests of a distributed flood went ahead, want %d", sent, ResetAccountOverall.Free+1)
	}
	if ok, _ := CountReset(ctx, st, "user:victim", "198.51.100.2", time.Hour, now); ok {
		t.Error("past the ceiling a fresh address still went ahead")
	}
	// Another account is not affected.
	if ok, _ := CountReset(ctx, st, "user:other", "198.51.100.2", time.Hour, now); !ok {
		t.Error("another account was throttled")
	}
}

// TestCountLoginBoundsAnAddress: past the free logins an address is refused
// with the time to come back, another address is not, and after the
// longest wait the count starts again.
func TestCountLoginBoundsAnAddress(t *testing.T) {
	t.Parallel()
	st, ctx := openStore(t), context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const free = 5
	started := 0
	for range 50 {
		if err := CountLogin(ctx, st, "192.0.2.9", free, now); err == nil {
			started++
		} else if le, ok := errors.AsType[*LockedError](err); !ok || !le.Until.Equal(now.Add(time.Minute)) {
			t.Fatalf("refusal = %v, want a lock until +1m", err)
		}
	}
	if started != free+1 {
		t.Errorf("%d logins started at once, want %d (the last starts the lock)", started, free+1)
	}
	if err := CountLogin(ctx, st, "198.51.100.1", free, now); err != nil {
		t.Errorf("another address was refused: %v", err)
	}
	// Waiting out each lock buys one more, until the longest wait resets.
	waits := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, LoginsQuiet}
	for _, d := range waits {
		now = now.Add(d)
		if err := CountLogin(ctx, st, "192.0.2.9", free, now); err != nil {
			t.Fatalf("after waiting %v: %v", d, err)
		}
		if err := CountLogin(ctx, st, "192.0.2.9", free, now); !errors.Is(err, ErrLocked) {
			t.Fatalf("a second login after waiting %v: %v, want ErrLocked", d, err)
		}
	}
	now = now.Add(LoginsQuiet + time.Second)
	for i := range free {
		if err := CountLogin(ctx, st, "192.0.2.9", free, now); err != nil {
			t.Fatalf("after the quiet period, login %d refused: %v", i+1, err)
		}
	}
}
