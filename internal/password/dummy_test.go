package password

import (
	"context"
	"errors"
	"testing"
)

// The dummy that unknown users are checked against must cost what a real
// hash costs, or "no such user" would answer faster than "wrong password".
func TestDummyHasTheConfiguredCost(t *testing.T) {
	p := Params{MemoryKiB: 2048, Iterations: 3, Parallelism: 1}
	h := NewHasher(p)
	got, salt, key, err := decode(h.dummy)
	if err != nil || got != p || len(salt) != saltLen || len(key) != keyLen {
		t.Fatalf("dummy %q decodes to %+v (%d-byte salt, %d-byte key), %v; want %+v", h.dummy, got, len(salt), len(key), err, p)
	}
	if err := h.Verify(context.Background(), "", ""); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify against no hash = %v, want ErrMismatch", err)
	}
	if NewHasher(p).dummy == h.dummy {
		t.Error("two hashers share a dummy: it must be random")
	}
}
