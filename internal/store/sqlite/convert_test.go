package sqlite

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzPlainList: whatever a list column holds, the fast path either declines
// it or reads exactly what encoding/json reads.
func FuzzPlainList(f *testing.F) {
	for _, s := range []string{`[]`, `["openid"]`, `["openid","profile","email"]`, `["a\"b"]`, `["\u003c"]`,
		`["x",]`, `[""]`, `["a" ,"b"]`, `["ü"]`, "[\"\x01\"]", `[1]`, `["a"]x`, `[`, `["`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parsePlainList(s)
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("parsePlainList(%q) = %q, but encoding/json refuses it: %v", s, got, err)
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("parsePlainList(%q) = %q, encoding/json reads %q", s, got, want)
		}
	})
}

func TestPlainListRoundTrip(t *testing.T) {
	for _, l := range [][]string{nil, {"openid"}, {"openid", "profile", "offline_access"}, {"https://app.example/cb?x=1&y=2"}, {`quote"d`, "tab\t"}} {
		var got []string
		if err := (jsonList{&got}).Scan(list(l)); err != nil || !slices.Equal(got, l) {
			t.Errorf("round trip of %q: %q, %v", l, got, err)
		}
	}
}
