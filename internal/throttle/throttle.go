// Package throttle slows guessing: a back-off lockout counted in the store per
// key, so every replica sees the same count. Keys name what is limited: a
// user's one-time codes, a typed username's passwords, a client address's
// failures across all accounts.
package throttle

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/authz/authz/internal/store"
)

// ErrLocked is matched by every *LockedError, for callers that need not know
// until when.
var ErrLocked = errors.New("throttle: locked after too many failures")

// LockedError means attempts are refused until Until because of earlier
// failures.
type LockedError struct {
	Until time.Time
}

// Error tells when the lock ends, which is what the user needs to know.
func (e *LockedError) Error() string {
	return "throttle: locked after too many failures until " + e.Until.UTC().Format(time.RFC3339)
}

// Is lets errors.Is(err, ErrLocked) match a *LockedError.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Backoff is a lockout policy: the first Free consecutive failures cost
// nothing (typos happen), then each failure locks for Base, doubling per
// further failure up to Max (a Max below Base means Base). A success resets
// the count.
type Backoff struct {
	Free int
	Base time.Duration
	Max  time.Duration
}

// The policies authz applies.
var (
	// OTP limits one-time codes per user. With 5 free attempts and ±1 step, a
	// brute force needs about 10^6/3 guesses, which this makes take years.
	OTP = Backoff{Free: 5, Base: 30 * time.Second, Max: 15 * time.Minute}
	// Password locks an account at one client address after repeated wrong
	// passwords from there. It is looser than OTP: the password is the
	// factor users mistype most.
	Password = Backoff{Free: 10, Base: 30 * time.Second, Max: 15 * time.Minute}
	// PasswordAccount is the ceiling over all addresses: it stops guessing
	// spread over many addresses, and is high enough that one address alone
	// cannot keep an account locked for everyone else.
	PasswordAccount = Backoff{Free: 50, Base: time.Minute, Max: 15 * time.Minute}
	// Address limits wrong passwords and codes from one client address across
	// all usernames, so spraying many accounts is slowed too. It is generous
	// because many users may share one address.
	Address = Backoff{Free: 50, Base: time.Minute, Max: 15 * time.Minute}
)

// Policies for requests that are not guesses but must not flood: each request
// counts, and a quiet hour starts the count again (see CountRequest).
var (
	// ResetAccount limits password-reset e-mails to one account asked for
	// from one client address: a few at once, then one every quarter of an
	// hour at most.
	ResetAccount = Backoff{Free: 3, Base: 15 * time.Minute, Max: time.Hour}
	// ResetAccountOverall is the ceiling for one account over all
	// addresses: it stops a flood spread over many addresses. Only the free
	// requests of each address count towards it (see CountReset), so one
	// address alone, however patient, never reaches it and cannot keep the
	// account's reset e-mails from its owner elsewhere.
	ResetAccountOverall = Backoff{Free: 10, Base: 15 * time.Minute, Max: time.Hour}
	// ResetAddress limits reset requests from one client address across
	// all accounts.
	ResetAddress = Backoff{Free: 20, Base: time.Minute, Max: time.Hour}
)

// Logins limits the login transactions one client address may start while
// nobody is signed in (see CountLogin): free of them, the operator's setting
// (login.anonymous_per_address); past it one a minute, the wait doubling up
// to LoginsQuiet, after which the count starts again. Each such start is a
// row until it expires, and nothing else bounds how many an anonymous client
// makes; the doubling caps a flood at about free rows per half hour.
func Logins(free int) Backoff {
	return Backoff{Free: free, Base: time.Minute, Max: LoginsQuiet}
}

// LoginsQuiet is how long an address must start no login for its count to
// start again. It equals the longest wait, so that an address which waited
// it out starts afresh.
const LoginsQuiet = 10 * time.Minute

// CountLogin counts a login transaction about to be stored for a request from
// client address ip that nobody is signed in to, under Logins(free), and
// returns a *LockedError when the address has started too many lately.
func CountLogin(ctx context.Context, st store.Store, ip string, free int, now time.Time) error {
	key := "login|" + AddressKey(ip)
	ok, err := CountRequest(ctx, st, key, Logins(free), LoginsQuiet, now)
	if err != nil || ok {
		return err
	}
	th, err := st.GetThrottle(ctx, key)
	if err != nil {
		return err
	}
	// A burst refused by CountRequest has its lock written by the request
	// that passed the free budget; a second is the least worth waiting.
	return &LockedError{Until: maxTime(th.LockedUntil, now.Add(time.Second))}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ResetKeys are the keys a password-reset request is counted under: the
// client address over all accounts (policy ResetAddress), the account at
// that address (ResetAccount) and the account over all addresses
// (ResetAccountOverall). account names the user when one was found, else
// the typed name, so both are counted alike.
func ResetKeys(account, ip string) (address, atAddress, overall string) {
	overall = "reset:" + strings.ToLower(account)
	return "reset|" + AddressKey(ip), overall + "|" + AddressKey(ip), overall
}

// CountReset counts a password-reset request for account from client
// address ip and reports whether its e-mail may be sent; quiet is how long a
// key must go without requests for its count to start again. A throttled
// address is refused before anything is counted under the account, so a
// flood of typed names from it writes nothing more. The account is counted
// at the address and over all addresses, as PasswordKeys are: a flood from
// one address throttles that address only. Only an address's free requests
// count towards the ceiling over all addresses (the later ones are checked
// against it, not counted), so that one address alone never reaches it,
// while many addresses at once do.
func CountReset(ctx context.Context, st store.Store, account, ip string, quiet time.Duration, now time.Time) (bool, error) {
	address, atAddress, overall := ResetKeys(account, ip)
	if ok, _, err := countRequest(ctx, st, address, ResetAddress, quiet, now); err != nil || !ok {
		return false, err
	}
	ok, n, err := countRequest(ctx, st, atAddress, ResetAccount, quiet, now)
	if err != nil || !ok {
		return false, err
	}
	if n > ResetAccount.Free {
		switch err := Check(ctx, st, overall, now); {
		case errors.Is(err, ErrLocked):
			return false, nil
		case err != nil:
			return false, err
		}
		return true, nil
	}
	ok, _, err = countRequest(ctx, st, overall, ResetAccountOverall, quiet, now)
	return ok, err
}

// CountRequest counts a request on key under b and reports whether it may
// go ahead: not while key is locked. Unlike a failure, every request counts;
// a count older than quiet starts again.
func CountRequest(ctx context.Context, st store.Store, key string, b Backoff, quiet time.Duration, now time.Time) (bool, error) {
	ok, _, err := countRequest(ctx, st, key, b, quiet, now)
	return ok, err
}

// countRequest is CountRequest, which also returns the count with this
// request (0 when it was refused without being counted).
func countRequest(ctx context.Context, st store.Store, key string, b Backoff, quiet time.Duration, now time.Time) (bool, int, error) {
	switch th, ok, err := st.CountFreeFailure(ctx, key, now, b.Free, now.Add(-quiet)); {
	case err != nil:
		return false, 0, err
	case ok:
		return true, th.Failures, nil
	}
	before, err := st.GetThrottle(ctx, key)
	if err != nil {
		return false, 0, err
	}
	if now.Before(before.LockedUntil) {
		return false, 0, nil
	}
	seen := before.Failures
	if seen > 0 && now.Sub(before.UpdatedAt) > quiet {
		if err := st.ResetThrottle(ctx, key); err != nil {
			return false, 0, err
		}
		seen = 0
	}
	after, err := st.AddFailure(ctx, key, now, b.LockFor)
	if err != nil {
		return false, 0, err
	}
	// As in Charge: requests counted between this one's read and write,
	// beyond the free budget, mean a burst, which is refused.
	return after.Failures <= seen+1 || after.Failures <= b.Free, after.Failures, nil
}

// addressQuiet is how long an address must stay free of failures for its
// count to start again.
const addressQuiet = time.Hour

// OTPKey is the key of a user's one-time-code lockout; an administrator's
// "unlock" resets it.
func OTPKey(userID string) string { return "otp:" + userID }

// PasswordKeys are the keys a password attempt on account is charged to: the
// account at client address ip (policy Password), and the account over all
// addresses (policy PasswordAccount). account names the user the typed name
// or e-mail found, or the typed name when it found nobody, so that an
// unknown name is throttled, and answered, exactly like a known one.
func PasswordKeys(account, ip string) (atAddress, overall string) {
	overall = "pwd:" + strings.ToLower(account)
	return overall + "|" + AddressKey(ip), overall
}

// AddressKey names a client address, or its /64 for IPv6, where one client
// commonly holds the whole prefix.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err == nil && a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + ip
}

// LockFor returns how long to lock after the given number of consecutive
// failures; it has the shape store.Store.AddFailure expects.
func (b Backoff) LockFor(failures int) time.Duration {
	if failures <= b.Free || b.Base <= 0 {
		return 0
	}
	limit := max(b.Max, b.Base)
	d := b.Base
	for i := b.Free + 1; i < failures; i++ {
		if d >= limit/2 {
			return limit // also keeps the doubling from overflowing
		}
		d *= 2
	}
	return d
}

// Charge counts an attempt on key as a failure before its outcome is known, and
// refuses it (with a *LockedError) when key is locked, or when other attempts
// were counted between this one's read and write beyond the free budget.
// Counting first is what keeps a burst of concurrent guesses, on any number of
// replicas, from all passing the lock check before the first failure is written.
// The caller resets the key when the attempt succeeds.
func (b Backoff) Charge(ctx context.Context, st store.Store, key string, now time.Time) (*store.Throttle, error) {
	// Within the free budget the count and the check are one write; the
	// general path below reads first, to learn the lock or the burst.
	if th, ok, err := st.CountFreeFailure(ctx, key, now, b.Free, time.Time{}); err != nil || ok {
		return th, err
	}
	before, err := st.GetThrottle(ctx, key)
	if err != nil {
		return nil, err
	}
	if now.Before(before.LockedUntil) {
		return nil, &LockedError{Until: before.LockedUntil}
	}
	after, err := st.AddFailure(ctx, key, now, b.LockFor)
	if err != nil {
		return nil, err
	}
	if after.Failures > before.Failures+1 && after.Failures > b.Free {
		return nil, &LockedError{Until: after.LockedUntil}
	}
	return after, nil
}

// Check returns a *LockedError while key is locked at now, else nil.
func Check(ctx context.Context, st store.Store, key string, now time.Time) error {
	th, err := st.GetThrottle(ctx, key)
	if err != nil {
		return err
	}
	return Locked(th, now)
}

// Locked is Check of a throttle already read.
func Locked(th *store.Throttle, now time.Time) error {
	if now.Before(th.LockedUntil) {
		return &LockedError{Until: th.LockedUntil}
	}
	return nil
}

// CountAddressFailure records a failed password or code from client address
// ip under the Address policy; a count older than an hour of quiet starts
// again.
func CountAddressFailure(ctx context.Context, st store.Store, ip string, now time.Time) error {
	key := AddressKey(ip)
	if _, ok, err := st.CountFreeFailure(ctx, key, now, Address.Free, now.Add(-addressQuiet)); err != nil || ok {
		return err
	}
	if th, err := st.GetThrottle(ctx, key); err == nil && th.Failures > 0 && now.Sub(th.UpdatedAt) > addressQuiet {
		_ = st.ResetThrottle(ctx, key)
	}
	_, err := st.AddFailure(ctx, key, now, Address.LockFor)
	return err
}
