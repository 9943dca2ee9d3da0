// Package mfa implements authz's second factor: TOTP (RFC 6238) as the
// authenticator apps FreeOTP, Microsoft Authenticator and Google Authenticator
// all understand it, plus the server-side rules around it — replay guard,
// lockout with back-off, and sealing of the shared secret at rest.
//
// The parameters are fixed on purpose (SHA1, 6 digits, 30 s): they are the only
// ones all three apps honour, so they are not configurable.
package mfa

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// TOTP parameters shared with the authenticator apps.
const (
	// Period is the lifetime of one code (one RFC 6238 time step).
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// SecretSize is the length of a new secret in bytes (160 bits, as RFC 4226
	// recommends).
	SecretSize = 20
	// Skew is how many steps before and after the current one are accepted, to
	// absorb clock drift and the time the user takes to type.
	Skew = 1
	// minSecretSize rejects secrets too short to resist guessing (RFC 4226 R6).
	minSecretSize = 16
)

var (
	// ErrCodeEmpty means no code was entered.
	ErrCodeEmpty = errors.New("mfa: code is empty")
	// ErrCodeFormat means the input is not a 6-digit code.
	ErrCodeFormat = errors.New("mfa: code must be 6 digits")
	// ErrInvalidSecret means a secret is not base32 or too short.
	ErrInvalidSecret = errors.New("mfa: invalid TOTP secret")
)

// b32 is the secret encoding the apps expect: standard alphabet, no padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

var hotpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewSecret returns a fresh random secret of SecretSize bytes, base32 encoded
// without padding.
func NewSecret() (string, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("mfa: generate secret: %w", err)
	}
	return b32.EncodeToString(b), nil
}

// decodeSecret accepts what a user might paste (lower case, spaces, padding)
// and rejects secrets that would make codes guessable.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.Join(strings.Fields(secret), ""))
	b, err := b32.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: not base32", ErrInvalidSecret)
	}
	if len(b) < minSecretSize {
		return nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrInvalidSecret, len(b), minSecretSize)
	}
	return b, nil
}

// canonicalSecret returns secret in the exact form NewSecret produces.
func canonicalSecret(secret string) (string, error) {
	b, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return b32.EncodeToString(b), nil
}

// KeyURI returns the otpauth:// URI the apps scan. The issuer appears both in the
// label and as a parameter because some apps read only one of them; an empty
// issuer is left out. Issuer and account are percent-encoded per RFC 3986, so
// spaces, colons and '&' survive every app's parser.
func KeyURI(issuer, account, secret string) string {
	label := escape(account)
	if issuer != "" {
		label = escape(issuer) + ":" + label
	}
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(label)
	b.WriteString("?secret=")
	b.WriteString(escape(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer))
	}
	b.WriteString("&algorithm=SHA1&digits=")
	b.WriteString(strconv.Itoa(Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.Itoa(int(Period / time.Second)))
	return b.String()
}

// escape percent-encodes everything but RFC 3986 unreserved characters.
// url.QueryEscape would turn a space into '+', which some apps show literally,
// and url.PathEscape leaves '&' and '=' alone, which breaks the query.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// GroupKey formats a secret for typing by hand ("Can't scan?"): upper case, in
// groups of four separated by spaces. The apps ignore the spaces.
func GroupKey(secret string) string {
	s := strings.ToUpper(strings.Join(strings.Fields(secret), ""))
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// Step returns the RFC 6238 time step that contains t.
func Step(t time.Time) int64 {
	sec, period := t.Unix(), int64(Period/time.Second)
	step := sec / period
	if sec < 0 && sec%period != 0 {
		step-- // floor, not truncation, before 1970
	}
	return step
}

// Code returns the code the apps show for secret at time t. The server itself
// only verifies; this serves tests and the load tool.
func Code(secret string, t time.Time) (string, error) {
	canon, err := canonicalSecret(secret)
	if err != nil {
		return "", err
	}
	return hotpCode(canon, Step(t))
}

// hotpCode computes the code of one step for a secret already in canonical form.
func hotpCode(canon string, step int64) (string, error) {
	if step < 0 {
		return "", fmt.Errorf("mfa: time step %d before 1970", step)
	}
	code, err := hotp.GenerateCodeCustom(canon, uint64(step), hotpOpts)
	if err != nil {
		return "", fmt.Errorf("mfa: generate code: %w", err)
	}
	return code, nil
}

// maxCodeInput bounds the work ParseCode does on hostile input.
const maxCodeInput = 64

// ParseCode normalises what the user typed: spaces are dropped (the apps show
// "123 456"), and the rest must be exactly 6 ASCII digits. It returns
// ErrCodeEmpty or ErrCodeFormat otherwise.
func ParseCode(input string) (string, error) {
	if len(input) > maxCodeInput {
		return "", ErrCodeFormat
	}
	code := strings.Join(strings.Fields(input), "")
	if code == "" {
		return "", ErrCodeEmpty
	}
	if len(code) != Digits {
		return "", ErrCodeFormat
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", ErrCodeFormat
		}
	}
	return code, nil
}

// MatchStep reports whether code is valid for secret within Skew steps of now,
// and which step it matched; an invalid secret matches nothing. Every candidate is computed and compared in
// constant time, so timing reveals neither the code nor the step. Should a code
// match two steps, the later one is returned: recording it as used rejects the
// code for the longest time.
func MatchStep(secret, code string, now time.Time) (step int64, ok bool) {
	canon, err := canonicalSecret(secret)
	if err != nil {
		return 0, false
	}
	current := Step(now)
	for s := current - Skew; s <= current+Skew; s++ {
		want, err := hotpCode(canon, s)
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}
