// Package password hashes and verifies user passwords with argon2id, and bounds
// how many hashes run at once so a flood of logins cannot exhaust memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/authz/authz/internal/i18n"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Errors returned by Hasher.
var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password: mismatch")
	// ErrBusy means every hashing slot stayed taken for the whole wait.
	ErrBusy = errors.New("password: too many concurrent password checks")
	// ErrMalformedHash means a stored hash cannot be parsed.
	ErrMalformedHash = errors.New("password: malformed hash")
)

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// OWASP is the OWASP-recommended minimum: 19 MiB, 2 iterations, 1 lane.
var OWASP = Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes with Params, at most runtime.GOMAXPROCS(0) at a time.
type Hasher struct {
	params Params
	slots  chan struct{}
	// Wait bounds how long a caller queues for a slot before ErrBusy.
	Wait  time.Duration
	dummy string
}

// NewHasher returns a Hasher with p.
func NewHasher(p Params) *Hasher {
	h := &Hasher{params: p, slots: make(chan struct{}, runtime.GOMAXPROCS(0)), Wait: 5 * time.Second}
	// Unknown users are checked against a dummy so that "no such user" costs
	// as much as "wrong password". Any well-formed hash with the configured cost
	// does: a random salt and a random key are the hash of no password at all,
	// and making them costs no argon2id run (19 MiB, tens of milliseconds) at
	// every start.
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	h.dummy = h.encode(salt, key, p)
	return h
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(h.Wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		// The request's own deadline came first: as busy as the bound above
		// (a caller must never take it for a wrong password).
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ErrBusy
		}
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the encoded argon2id hash of pw.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(pw), salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, keyLen)
	return h.encode(salt, key, h.params), nil
}

func (h *Hasher) encode(salt, key []byte, p Params) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify checks pw against encoded. An empty encoded hash (unknown user, or no
// password set) is checked against a dummy hash and always fails, in the same
// time and with the same ErrBusy or context error when the check cannot run:
// a loaded server must not tell unknown names from known ones.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) error {
	if encoded == "" {
		if err := h.verify(ctx, h.dummy, pw); !errors.Is(err, ErrMismatch) {
			return err
		}
		return ErrMismatch
	}
	return h.verify(ctx, encoded, pw)
}

func (h *Hasher) verify(ctx context.Context, encoded, pw string) error {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return err
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	got := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var v int
	var p Params
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || p.Iterations == 0 || p.Parallelism == 0 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}

// PolicyError is a password that breaks the policy; its text is written for the
// person choosing the password.
type PolicyError string

// Error is the refusal in English; pages show it in the reader's language
// from the catalog entry the error's value names.
func (e PolicyError) Error() string { return i18n.T(context.Background(), string(e)) }

// Policy errors of Check.
const (
	ErrTooShort     = PolicyError("password.too_short")
	ErrTooLong      = PolicyError("password.too_long")
	ErrMismatchPair = PolicyError("password.mismatch")
	ErrIsUsername   = PolicyError("password.is_username")
)

// The length a new password must have, in characters. The pages that ask
// for one state it (tests hold them to these numbers).
const (
	MinLength = 8
	MaxLength = 256
)

// Check applies the password policy to a new password and its confirmation.
// Its errors are written for the person choosing the password.
func Check(pw, confirm, username string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinLength:
		return ErrTooShort
	case n > MaxLength:
		return ErrTooLong
	case subtle.ConstantTimeCompare([]byte(pw), []byte(confirm)) != 1:
		return ErrMismatchPair
	case strings.EqualFold(pw, username):
		return ErrIsUsername
	}
	return nil
}
