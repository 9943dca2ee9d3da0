package password

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var fast = Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}

func TestHashVerify(t *testing.T) {
	h := NewHasher(fast)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("encoding: %s", enc)
	}
	if err := h.Verify(ctx, enc, "correct horse"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := h.Verify(ctx, enc, "correct horsE"); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: %v", err)
	}
	if err := h.Verify(ctx, "", "anything"); !errors.Is(err, ErrMismatch) {
		t.Errorf("empty hash must fail: %v", err)
	}
	enc2, _ := h.Hash(ctx, "correct horse")
	if enc == enc2 {
		t.Error("two hashes of one password must differ (salt)")
	}
}

func TestVerifyUsesStoredParams(t *testing.T) {
	ctx := context.Background()
	enc, _ := NewHasher(fast).Hash(ctx, "pw-pw-pw-pw")
	if err := NewHasher(OWASP).Verify(ctx, enc, "pw-pw-pw-pw"); err != nil {
		t.Fatalf("a hash made with other parameters must still verify: %v", err)
	}
}

func TestMalformedHash(t *testing.T) {
	h := NewHasher(fast)
	for _, enc := range []string{"x", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=18$m=1024,t=1,p=1$AA$AA", "$argon2id$v=19$m=1024,t=0,p=1$AA$AA", "$argon2id$v=19$m=1024,t=1,p=1$!!$AA"} {
		if err := h.Verify(context.Background(), enc, "x"); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%q: got %v", enc, err)
		}
	}
}

func TestBusy(t *testing.T) {
	h := NewHasher(fast)
	h.Wait = 20 * time.Millisecond
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	if _, err := h.Hash(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("with every slot taken: %v", err)
	}
	// A request deadline that ends the wait first is busy too, not a
	// failure a caller could take for a wrong password.
	h.Wait = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.Verify(ctx, h.dummy, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("request deadline while waiting: %v, want ErrBusy", err)
	}
	// An unknown user (no hash) is as busy as a known one: the answer must
	// not tell the two apart.
	h.Wait = 20 * time.Millisecond
	if err := h.Verify(context.Background(), "", "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("unknown user with every slot taken: %v, want ErrBusy", err)
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "x"); err != nil {
		t.Fatalf("with a free slot: %v", err)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		pw, confirm, user string
		want              error
	}{
		{"short", "short", "u", ErrTooShort},
		{strings.Repeat("a", 257), strings.Repeat("a", 257), "u", ErrTooLong},
		{"long enough", "long enougH", "u", ErrMismatchPair},
		{"AliceAlice", "AliceAlice", "alicealice", ErrIsUsername},
		{"long enough", "long enough", "alice", nil},
	}
	for _, c := range cases {
		if err := Check(c.pw, c.confirm, c.user); !errors.Is(err, c.want) {
			t.Errorf("Check(%q): %v, want %v", c.pw, err, c.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	h := NewHasher(fast)
	enc, _ := h.Hash(context.Background(), "seed")
	f.Add(enc, "seed")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		if strings.Contains(encoded, "m=") && len(encoded) > 200 {
			t.Skip()
		}
		p, _, _, err := decode(encoded)
		if err == nil && (p.MemoryKiB > 1<<16 || p.Iterations > 4) {
			t.Skip() // valid but too costly for a fuzz iteration
		}
		_ = h.Verify(context.Background(), encoded, pw)
	})
}

func BenchmarkHashOWASP(b *testing.B) {
	h := NewHasher(OWASP)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}
