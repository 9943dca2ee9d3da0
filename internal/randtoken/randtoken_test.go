package randtoken

import (
	"encoding/base64"
	"testing"
)

func TestNewLengthAndAlphabet(t *testing.T) {
	for _, n := range []int{15, 24, 32} {
		tok := New(n)
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatalf("New(%d) = %q: not base64url: %v", n, tok, err)
		}
		if len(b) != n {
			t.Errorf("New(%d) decodes to %d bytes", n, len(b))
		}
	}
}

func TestNewDiffers(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := New(16)
		if seen[tok] {
			t.Fatalf("New repeated %q", tok)
		}
		seen[tok] = true
	}
}
