package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authz/authz/internal/store"
)

// Recovery codes stand in for the authenticator when it is lost: each works
// once, counts towards the same lockout as a wrong one-time code, and is
// stored only as a keyed hash.

const (
	// RecoveryCodeCount is how many codes a set holds.
	RecoveryCodeCount = 10
	// RecoveryCodeLength is the number of characters in a code, without the
	// dash it is shown with: 10 characters of 30 give 49 bits.
	RecoveryCodeLength = 10
	// recoveryAlphabet leaves out what is easily misread: 0/O, 1/I/L, and U
	// (which reads as V in some fonts).
	recoveryAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
	// maxRecoveryInput bounds what is parsed: a code with generous spacing.
	maxRecoveryInput = 64
)

// ErrRecoveryFormat means the input cannot be a recovery code: wrong length
// or characters outside the alphabet. It does not count towards the lockout.
var ErrRecoveryFormat = errors.New("mfa: not a recovery code")

// NewRecoveryCodes returns a fresh set of codes, shown as XXXXX-XXXXX.
func NewRecoveryCodes() ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i] = c[:RecoveryCodeLength/2] + "-" + c[RecoveryCodeLength/2:]
	}
	return codes, nil
}

func newRecoveryCode() (string, error) {
	b := make([]byte, RecoveryCodeLength)
	n := byte(len(recoveryAlphabet))
	// Rejection sampling keeps every character equally likely.
	limit := 256 - 256%int(n)
	for i := 0; i < len(b); {
		var r [1]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", fmt.Errorf("mfa: generate recovery code: %w", err)
		}
		if int(r[0]) >= limit {
			continue
		}
		b[i] = recoveryAlphabet[r[0]%n]
		i++
	}
	return string(b), nil
}

// NormalizeRecoveryCode returns the canonical form of a typed recovery code:
// spaces and dashes dropped, letters upper-cased. It returns ErrCodeEmpty for
// nothing and ErrRecoveryFormat for what cannot be a code.
func NormalizeRecoveryCode(input string) (string, error) {
	if len(input) > maxRecoveryInput {
		return "", ErrRecoveryFormat
	}
	var b strings.Builder
	for _, r := range input {
		switch {
		case r == ' ' || r == '-' || r == '\t' || r == '\u00a0' || r == '\u2010' || r == '\u2011' || r == '\u2013':
		case r < 0x80 && strings.ContainsRune(recoveryAlphabet, toUpper(r)):
			b.WriteRune(toUpper(r))
		default:
			return "", ErrRecoveryFormat
		}
	}
	code := b.String()
	switch len(code) {
	case 0:
		return "", ErrCodeEmpty
	case RecoveryCodeLength:
		return code, nil
	}
	return "", ErrRecoveryFormat
}

func toUpper(r rune) rune {
	if r >= 'a' && r <= 'z' {
		return r - 'a' + 'A'
	}
	return r
}

// hashRecoveryCode is what the store keeps of a normalised code: an HMAC
// under the verifier's key, bound to the user, so a copied table reveals no
// code and 49 bits cannot be searched offline without the key.
func (v *Verifier) hashRecoveryCode(userID, code string) string {
	m := hmac.New(sha256.New, v.RecoveryKey)
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// IssueRecoveryCodes makes a new set of codes for userID, stores their hashes
// in place of any earlier set, and returns the codes to show the user once.
func (v *Verifier) IssueRecoveryCodes(ctx context.Context, userID string, now time.Time) ([]string, error) {
	codes, err := NewRecoveryCodes()
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		norm, err := NormalizeRecoveryCode(c)
		if err != nil {
			return nil, fmt.Errorf("mfa: a new recovery code does not parse: %w", err)
		}
		hashes[i] = v.hashRecoveryCode(userID, norm)
	}
	if err := v.Store.ReplaceRecoveryCodes(ctx, userID, hashes, now); err != nil {
		return nil, fmt.Errorf("mfa: store recovery codes: %w", err)
	}
	return codes, nil
}

// UseRecoveryCode checks input as the second factor of userID at now and uses
// the code up. It returns how many codes are left; the errors are those of
// Verify: a *throttle.LockedError while locked, ErrInvalidCode for a wrong or
// used code (counted towards the lockout), ErrCodeEmpty or ErrRecoveryFormat
// for input that is no code (not counted).
func (v *Verifier) UseRecoveryCode(ctx context.Context, userID, input string, now time.Time) (int, error) {
	code, err := NormalizeRecoveryCode(input)
	if err != nil {
		if lerr := v.checkLock(ctx, userID, now); lerr != nil {
			return 0, lerr
		}
		return 0, err
	}
	th, err := v.charge(ctx, userID, now)
	if err != nil {
		return 0, err
	}
	left, err := v.Store.UseRecoveryCode(ctx, userID, v.hashRecoveryCode(userID, code))
	if errors.Is(err, store.ErrNotFound) {
		return 0, refused(th, now)
	}
	if err != nil {
		return 0, fmt.Errorf("mfa: use recovery code: %w", err)
	}
	return left, v.succeed(ctx, userID)
}

// recoveryAD binds sealed codes waiting to be shown to their user.
func recoveryAD(userID string) []byte { return []byte("recovery-pending:" + userID) }

// SealRecoveryCodes seals codes to keep in a login transaction until the
// user has seen them (store.LoginTransaction.PendingRecoveryCodes).
func (v *Verifier) SealRecoveryCodes(userID string, codes []string) ([]byte, error) {
	sealed, err := v.Sealer.Seal([]byte(strings.Join(codes, "\n")), recoveryAD(userID))
	if err != nil {
		return nil, fmt.Errorf("mfa: seal recovery codes: %w", err)
	}
	return sealed, nil
}

// OpenRecoveryCodes opens codes sealed by SealRecoveryCodes for the same user.
func (v *Verifier) OpenRecoveryCodes(userID string, sealed []byte) ([]string, error) {
	b, err := v.Sealer.Open(sealed, recoveryAD(userID))
	if err != nil {
		return nil, fmt.Errorf("mfa: open recovery codes: %w", err)
	}
	return strings.Split(string(b), "\n"), nil
}
