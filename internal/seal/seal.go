// Package seal encrypts secrets that authz must read back (TOTP seeds, signing
// keys, upstream client secrets) before they reach the store, so a database dump
// alone does not reveal them.
//
// A sealed value is: version byte || 12-byte random nonce || AES-256-GCM
// ciphertext and tag. The version byte lets a later release add key rotation
// (a key identifier per version) without guessing at old data.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of a sealing key in bytes (AES-256).
const KeySize = 32

// version1 marks AES-256-GCM with the single configured key.
const version1 byte = 1

const (
	nonceSize = 12
	tagSize   = 16
	// overhead is what Seal adds to the plaintext.
	overhead = 1 + nonceSize + tagSize
)

var (
	// ErrInvalidKey means a key is not exactly KeySize bytes.
	ErrInvalidKey = errors.New("seal: key must be 32 bytes")
	// ErrOpen means sealed data could not be opened: it is truncated, of an
	// unknown version, tampered with, sealed under another key, or opened with
	// other associated data. The cases are not told apart on purpose.
	ErrOpen = errors.New("seal: cannot open sealed data")
)

// Sealer seals and opens secrets with one AES-256-GCM key. It is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for key, which must be exactly KeySize bytes.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w, got %d", ErrInvalidKey, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext. associatedData is authenticated but not stored: pass
// what the secret belongs to (for example "otp:"+userID) so that a sealed value
// copied onto another row fails to open.
func (s *Sealer) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, overhead+len(plaintext))
	out[0] = version1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	nonce := out[1 : 1+nonceSize]
	return s.aead.Seal(out, nonce, plaintext, additional(version1, associatedData)), nil
}

// Open decrypts a value made by Seal with the same associatedData. Any damage
// yields an error wrapping ErrOpen.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < overhead {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrOpen, len(sealed))
	}
	if sealed[0] != version1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrOpen, sealed[0])
	}
	nonce, ciphertext := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	plaintext, err := s.aead.Open(nil, nonce, ciphertext, additional(sealed[0], associatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrOpen)
	}
	return plaintext, nil
}

// additional binds the version byte into the authenticated data, so flipping it
// can never make a value open under another scheme.
func additional(version byte, associatedData []byte) []byte {
	ad := make([]byte, 0, 1+len(associatedData))
	ad = append(ad, version)
	return append(ad, associatedData...)
}
