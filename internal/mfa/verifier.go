package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
)

var (
	// ErrInvalidCode means the code is wrong, or was already used: a replayed
	// code gets the same answer as a wrong one so that it reveals nothing.
	ErrInvalidCode = errors.New("mfa: invalid code")
	// ErrNotEnrolled means the user has no OTP credential.
	ErrNotEnrolled = errors.New("mfa: no OTP credential enrolled")
)

// credentialAD binds a sealed credential secret to its user, so a sealed value
// copied onto another user's row fails to open.
func credentialAD(userID string) []byte { return []byte("otp:" + userID) }

// pendingAD differs from credentialAD so a pending secret kept in a login
// transaction can never pass for an enrolled credential, or the reverse.
func pendingAD(userID string) []byte { return []byte("otp-pending:" + userID) }

// Verifier checks TOTP codes against the store: it opens the sealed secret,
// enforces the lockout, and records the accepted step so that no code works
// twice (RFC 6238 §5.2). It is safe for concurrent use; the store's atomic
// AcceptOTPStep and AddFailure arbitrate between replicas.
type Verifier struct {
	Store  store.Store
	Sealer *seal.Sealer
	// Backoff is the lockout policy; the zero value means throttle.OTP.
	Backoff throttle.Backoff
	// RecoveryKey keys the hashes recovery codes are stored as; the server
	// derives it from the sealing key.
	RecoveryKey []byte
}

// NewVerifier returns a Verifier with the throttle.OTP policy.
func NewVerifier(st store.Store, sealer *seal.Sealer) *Verifier {
	return &Verifier{Store: st, Sealer: sealer, Backoff: throttle.OTP}
}

func (v *Verifier) backoff() throttle.Backoff {
	if v.Backoff == (throttle.Backoff{}) {
		return throttle.OTP
	}
	return v.Backoff
}

// Verify checks code as the second factor at now against cred, the user's
// credential as the caller has just read it from the store (nil when there
// is none). It returns nil on success; *throttle.LockedError (matching throttle.ErrLocked)
// while locked; ErrInvalidCode for a wrong or replayed code, which counts
// towards the lockout; ErrCodeEmpty or ErrCodeFormat for input that is not a
// code, which does not count since it cannot be a guess; ErrNotEnrolled
// without a credential. Other errors come from the store or the sealer and
// mean the check could not be made. A credential read before a concurrent
// use of the same code still lets only one of them through: the store's
// conditional AcceptOTPStep decides.
func (v *Verifier) Verify(ctx context.Context, cred *store.OTPCredential, code string, now time.Time) error {
	if cred == nil {
		return ErrNotEnrolled
	}
	userID := cred.UserID
	code, err := v.parse(ctx, userID, code, now)
	if err != nil {
		return err
	}
	secret, err := v.Sealer.Open(cred.SealedSecret, credentialAD(userID))
	if err != nil {
		return fmt.Errorf("mfa: open credential secret: %w", err)
	}
	th, err := v.charge(ctx, userID, now)
	if err != nil {
		return err
	}
	step, ok := MatchStep(string(secret), code, now)
	if !ok || step <= cred.LastStep {
		return refused(th, now)
	}
	// LastStep above spares a write for the common replay; this conditional
	// update is what stops two replicas accepting the same code concurrently.
	// The lockout's reset rides on the same write: one round trip.
	if err := v.Store.AcceptOTPStep(ctx, userID, step, throttle.OTPKey(userID)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return refused(th, now)
		}
		return fmt.Errorf("mfa: record accepted step: %w", err)
	}
	return nil
}

// Enroll confirms that the user's app holds secret by checking code at now
// (with the same lockout as Verify), then stores the sealed secret as the
// user's credential, replacing any previous one. The matched step is stored
// as used, so the code typed here cannot be replayed at the next login.
func (v *Verifier) Enroll(ctx context.Context, userID, secret, code string, now time.Time) error {
	canon, err := canonicalSecret(secret)
	if err != nil {
		return err
	}
	if code, err = v.parse(ctx, userID, code, now); err != nil {
		return err
	}
	th, err := v.charge(ctx, userID, now)
	if err != nil {
		return err
	}
	step, ok := MatchStep(canon, code, now)
	if !ok {
		return refused(th, now)
	}
	sealed, err := v.Sealer.Seal([]byte(canon), credentialAD(userID))
	if err != nil {
		return fmt.Errorf("mfa: seal secret: %w", err)
	}
	cred := &store.OTPCredential{UserID: userID, SealedSecret: sealed, LastStep: step, CreatedAt: now}
	if err := v.Store.CreateOTPCredential(ctx, cred); err != nil {
		return fmt.Errorf("mfa: store credential: %w", err)
	}
	return v.succeed(ctx, userID)
}

// SealSecret seals a secret shown during enrollment but not yet confirmed, for
// keeping in the login transaction (store.LoginTransaction.PendingOTPSecret).
func (v *Verifier) SealSecret(userID, secret string) ([]byte, error) {
	sealed, err := v.Sealer.Seal([]byte(secret), pendingAD(userID))
	if err != nil {
		return nil, fmt.Errorf("mfa: seal pending secret: %w", err)
	}
	return sealed, nil
}

// OpenSecret opens a secret sealed by SealSecret for the same user.
func (v *Verifier) OpenSecret(userID string, sealed []byte) (string, error) {
	b, err := v.Sealer.Open(sealed, pendingAD(userID))
	if err != nil {
		return "", fmt.Errorf("mfa: open pending secret: %w", err)
	}
	return string(b), nil
}

// parse parses code; what is not a code is refused without counting, but a
// locked user hears of the lock first. A code goes on to charge, which reads
// the lock itself.
func (v *Verifier) parse(ctx context.Context, userID, code string, now time.Time) (string, error) {
	code, err := ParseCode(code)
	if err != nil {
		if lerr := v.checkLock(ctx, userID, now); lerr != nil {
			return "", lerr
		}
		return "", err
	}
	return code, nil
}

// checkLock returns a *throttle.LockedError while the user is locked.
func (v *Verifier) checkLock(ctx context.Context, userID string, now time.Time) error {
	err := throttle.Check(ctx, v.Store, throttle.OTPKey(userID), now)
	if err != nil && !errors.Is(err, throttle.ErrLocked) {
		return fmt.Errorf("mfa: read lockout: %w", err)
	}
	return err
}

// charge counts the attempt before its outcome is known: see throttle.Backoff.Charge.
func (v *Verifier) charge(ctx context.Context, userID string, now time.Time) (*store.Throttle, error) {
	th, err := v.backoff().Charge(ctx, v.Store, throttle.OTPKey(userID), now)
	if err != nil && !errors.Is(err, throttle.ErrLocked) {
		return nil, fmt.Errorf("mfa: count attempt: %w", err)
	}
	return th, err
}

// refused is the answer to a wrong or replayed code, already counted by charge:
// ErrInvalidCode, joined with a *LockedError when this failure started a lock.
func refused(th *store.Throttle, now time.Time) error {
	if now.Before(th.LockedUntil) {
		return fmt.Errorf("%w (%w)", ErrInvalidCode, &throttle.LockedError{Until: th.LockedUntil})
	}
	return ErrInvalidCode
}

// succeed clears the attempts counted for this user.
func (v *Verifier) succeed(ctx context.Context, userID string) error {
	if err := v.Store.ResetThrottle(ctx, throttle.OTPKey(userID)); err != nil {
		return fmt.Errorf("mfa: reset lockout: %w", err)
	}
	return nil
}
