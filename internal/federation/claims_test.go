package federation

import (
	"testing"

	"github.com/authz/authz/internal/store"
)

// TestUserInfoVerifiedFlagStaysWithItsAddress: a userinfo answer fills the
// profile claims the ID token lacks, but its email_verified vouches only for
// its own address.
func TestUserInfoVerifiedFlagStaysWithItsAddress(t *testing.T) {
	wanted := profileClaims(&store.Provider{})
	cases := []struct {
		name         string
		idToken      map[string]any
		userinfo     map[string]any
		wantEmail    string
		wantVerified any
	}{
		{"both from userinfo",
			map[string]any{}, map[string]any{"email": "a@example.com", "email_verified": true},
			"a@example.com", true},
		{"same address in both",
			map[string]any{"email": "a@example.com"}, map[string]any{"email": "a@example.com", "email_verified": true},
			"a@example.com", true},
		{"another address in userinfo",
			map[string]any{"email": "a@example.com"}, map[string]any{"email": "b@example.com", "email_verified": true},
			"a@example.com", nil},
		{"userinfo vouches without an address",
			map[string]any{"email": "a@example.com"}, map[string]any{"email_verified": true},
			"a@example.com", nil},
		{"ID token's flag kept",
			map[string]any{"email": "a@example.com", "email_verified": false}, map[string]any{"email": "a@example.com", "email_verified": true},
			"a@example.com", false},
		{"no address at all",
			map[string]any{}, map[string]any{"email_verified": true},
			"", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mergeUserInfo(c.idToken, c.userinfo, wanted, "email")
			if got := claimString(c.idToken, "email"); got != c.wantEmail {
				t.Errorf("email = %q, want %q", got, c.wantEmail)
			}
			if got := c.idToken["email_verified"]; got != c.wantVerified {
				t.Errorf("email_verified = %v, want %v", got, c.wantVerified)
			}
		})
	}
}
