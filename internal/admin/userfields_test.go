package admin

import (
	"strings"
	"testing"

	"github.com/authz/authz/internal/store"
)

// TestUsernamesInJapanese: a username may be written in the Japanese
// scripts; full-width Latin letters and digits, as input methods type them,
// are stored as ASCII; other cased scripts, whose look-alikes of Latin
// letters the stores would fold differently, are refused.
func TestUsernamesInJapanese(t *testing.T) {
	cases := []struct {
		typed, stored string
		ok            bool
	}{
		{"山田太郎", "山田太郎", true},
		{"やまだ.タロウ", "やまだ.タロウ", true},
		{"ｙａｍａｄａ１", "yamada1", true},
		{" ﾔﾏﾀﾞ ", "ヤマダ", true},
		{"スーパー", "スーパー", true},
		{"аdmin", "", false}, // Cyrillic а
		{"ÉCOLE", "", false},
		{"山田 太郎", "", false},
		{strings.Repeat("東", 65), "", false},
	}
	for _, c := range cases {
		u := &store.User{Role: store.RoleUser}
		email := "u@example.test"
		typed := c.typed
		err := applyUserPatch(u, UserPatch{Username: &typed, Email: &email}, true)
		switch {
		case c.ok && err != nil:
			t.Errorf("%q refused: %v", c.typed, err)
		case c.ok && u.Username != c.stored:
			t.Errorf("%q stored as %q, want %q", c.typed, u.Username, c.stored)
		case !c.ok && (err == nil || AsError(err).Field != "username"):
			t.Errorf("%q: %v, want the username refused", c.typed, err)
		}
	}
}
