package store

import (
	"errors"
	"slices"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	scope := UserPageFilter{Prefix: "ann"}.Scope()
	for _, keys := range [][]string{{"anna"}, {""}, {"a\x00b", "ünïcode \"quoted\""}, {"1893456000000000", "42"}} {
		c := EncodeCursor(scope, keys...)
		got, err := DecodeCursor(c, scope, len(keys))
		if err != nil || !slices.Equal(got, keys) {
			t.Errorf("DecodeCursor(EncodeCursor(%q)) = %q, %v", keys, got, err)
		}
	}
}

func TestCursorRefusesForeignAndMalformed(t *testing.T) {
	users := EncodeCursor(UserPageFilter{}.Scope(), "anna")
	for name, tc := range map[string]struct {
		cursor, scope string
		n             int
	}{
		"another list":    {users, ProviderPageFilter{}.Scope(), 1},
		"another filter":  {users, UserPageFilter{Prefix: "a"}.Scope(), 1},
		"other key count": {users, UserPageFilter{}.Scope(), 2},
		"not base64":      {"***", UserPageFilter{}.Scope(), 1},
		"not JSON":        {"bm90IGpzb24", UserPageFilter{}.Scope(), 1},
		"JSON object":     {"e30", UserPageFilter{}.Scope(), 1},
		"too long":        {users + string(make([]byte, maxCursorLen)), UserPageFilter{}.Scope(), 1},
	} {
		if _, err := DecodeCursor(tc.cursor, tc.scope, tc.n); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%s: err = %v, want ErrBadCursor", name, err)
		}
	}
	if keys, err := DecodeCursor("", UserPageFilter{}.Scope(), 1); keys != nil || err != nil {
		t.Errorf(`DecodeCursor("") = %q, %v; want the first page`, keys, err)
	}
}

func TestPageSize(t *testing.T) {
	for limit, want := range map[int]int{-5: DefaultPageSize, 0: DefaultPageSize, 1: 1, MaxPageSize: MaxPageSize, MaxPageSize + 1: MaxPageSize} {
		if got := (Page{Limit: limit}).Size(); got != want {
			t.Errorf("Page{Limit: %d}.Size() = %d, want %d", limit, got, want)
		}
	}
}

// FuzzDecodeCursor: whatever a client sends as a cursor, decoding returns
// keys or ErrBadCursor, never panics, and keys only for a cursor of the scope.
func FuzzDecodeCursor(f *testing.F) {
	scope := AuditPageFilter{Type: "login"}.Scope()
	f.Add(EncodeCursor(scope, "1", "2"))
	f.Add(EncodeCursor(UserPageFilter{}.Scope(), "x"))
	f.Add("")
	f.Add("e30")
	f.Add("WyJ4Il0")
	f.Fuzz(func(t *testing.T, cursor string) {
		keys, err := DecodeCursor(cursor, scope, 2)
		switch {
		case err != nil && !errors.Is(err, ErrBadCursor):
			t.Fatalf("error %v is not ErrBadCursor", err)
		case err == nil && cursor != "" && len(keys) != 2:
			t.Fatalf("%d keys, want 2", len(keys))
		case err == nil && cursor != "" && EncodeCursor(scope, keys...) == "":
			t.Fatal("keys that encode to nothing")
		}
	})
}
