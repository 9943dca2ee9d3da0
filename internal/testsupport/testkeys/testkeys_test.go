package testkeys

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"testing"
)

// One server's keys differ from each other; two servers' n-th keys are the
// same key, of the algorithm asked for.
func TestGenerator(t *testing.T) {
	a, b := Generator(), Generator()
	a1, err := a("ES256")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := a("ES256")
	b1, _ := b("ES256")
	if _, ok := a1.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("ES256 key is %T", a1)
	}
	if a1.(*ecdsa.PrivateKey).Equal(a2) {
		t.Error("one server's second key is its first")
	}
	if !a1.(*ecdsa.PrivateKey).Equal(b1) {
		t.Error("two servers' first keys differ: every server would make its own")
	}
	r, err := a("RS256")
	if _, ok := r.(*rsa.PrivateKey); err != nil || !ok {
		t.Fatalf("RS256: %T, %v", r, err)
	}
	if _, err := a("HS256"); err == nil {
		t.Error("an algorithm authz does not sign with made a key")
	}
}
