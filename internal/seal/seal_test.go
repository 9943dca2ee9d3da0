package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func newTestSealer(t testing.TB) *Sealer {
	t.Helper()
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s, err := New(key)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestNewRejectsWrongKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("New(%d bytes) = %v, want ErrInvalidKey", n, err)
		}
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := newTestSealer(t)
	ad := []byte("otp:user-1")
	for _, pt := range [][]byte{nil, []byte("x"), []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), bytes.Repeat([]byte{0xAB}, 10000)} {
		sealed, err := s.Seal(pt, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if len(sealed) != len(pt)+overhead {
			t.Errorf("len(sealed) = %d, want %d", len(sealed), len(pt)+overhead)
		}
		if sealed[0] != version1 {
			t.Errorf("version byte = %d, want %d", sealed[0], version1)
		}
		if len(pt) > 4 && bytes.Contains(sealed, pt) {
			t.Error("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, ad)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	s := newTestSealer(t)
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical: nonce reused")
	}
}

func TestOpenRejectsDamage(t *testing.T) {
	s := newTestSealer(t)
	ad := []byte("otp:user-1")
	sealed, err := s.Seal([]byte("secret"), ad)
	if err != nil {
		t.Fatal(err)
	}
	mustFail := func(name string, in, ad []byte, with *Sealer) {
		t.Helper()
		if _, err := with.Open(in, ad); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %v, want ErrOpen", name, err)
		}
	}
	mustFail("wrong associated data", sealed, []byte("otp:user-2"), s)
	mustFail("missing associated data", sealed, nil, s)
	mustFail("other key", sealed, ad, newTestSealer(t))
	for i := range sealed {
		flipped := bytes.Clone(sealed)
		flipped[i] ^= 0x01
		mustFail("flipped byte", flipped, ad, s)
	}
	for n := 0; n < len(sealed); n++ {
		mustFail("truncated", sealed[:n], ad, s)
	}
	mustFail("appended byte", append(bytes.Clone(sealed), 0), ad, s)
	other := bytes.Clone(sealed)
	other[0] = 2
	mustFail("unknown version", other, ad, s)
}

func FuzzOpen(f *testing.F) {
	key := bytes.Repeat([]byte{7}, KeySize)
	s, err := New(key)
	if err != nil {
		f.Fatal(err)
	}
	// The seed must be identical in every fuzz worker process, so it is sealed
	// with a fixed nonce rather than through Seal.
	goodAD := []byte("otp:user")
	nonce := bytes.Repeat([]byte{9}, nonceSize)
	good := append([]byte{version1}, nonce...)
	good = s.aead.Seal(good, nonce, []byte("secret"), additional(version1, goodAD))
	f.Add(good, goodAD)
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte("x"))
	f.Add(bytes.Repeat([]byte{1}, overhead), []byte{})
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := s.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open error %v does not wrap ErrOpen", err)
			}
			return
		}
		// Only the genuine value may open: anything else is a forgery.
		if !bytes.Equal(sealed, good) || !bytes.Equal(ad, goodAD) || string(pt) != "secret" {
			t.Fatalf("Open accepted a value it did not seal: %x / %q", sealed, ad)
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	s := newTestSealer(b)
	pt := make([]byte, 20)
	ad := []byte("otp:user")
	for b.Loop() {
		sealed, err := s.Seal(pt, ad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open(sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}
