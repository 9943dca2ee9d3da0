package oauth

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// TestAccessResponseAsFosite: the answer is byte for byte fosite's, with its
// headers and status, for the members fosite sets and for the ones
// appendTokenJSON leaves to encoding/json.
func TestAccessResponseAsFosite(t *testing.T) {
	cases := map[string]map[string]any{
		"client credentials": {"expires_in": int64(3599), "scope": "api.read api.write"},
		"code":               {"expires_in": int64(3600), "scope": "openid offline_access", "refresh_token": "r.abc-_", "id_token": "eyJ.eyJ.sig"},
		"no extras":          {},
		"escaped":            {"scope": "a<b>&c", "x": "é\u2028"},
		"other types":        {"expires_in": 3.5, "flag": true, "list": []string{"a"}, "n": 7},
		"odd key":            {"a\"b": "c"},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			resp := func() *fosite.AccessResponse {
				r := fosite.NewAccessResponse()
				r.SetAccessToken("at.123")
				r.SetTokenType("bearer")
				for k, v := range extra {
					r.SetExtra(k, v)
				}
				return r
			}
			want := httptest.NewRecorder()
			(&fosite.Fosite{}).WriteAccessResponse(context.Background(), want, &fosite.AccessRequest{}, resp())
			got := httptest.NewRecorder()
			writeAccessResponse(got, resp())
			if got.Body.String() != want.Body.String() || got.Code != want.Code {
				t.Errorf("got %d %s\nwant %d %s", got.Code, got.Body, want.Code, want.Body)
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "Pragma"} {
				if got.Header().Get(h) != want.Header().Get(h) {
					t.Errorf("%s: got %q, want %q", h, got.Header().Get(h), want.Header().Get(h))
				}
			}
		})
	}
}

// FuzzAppendTokenJSON: whatever the strings, what appendTokenJSON writes when
// it accepts them is what encoding/json writes.
func FuzzAppendTokenJSON(f *testing.F) {
	f.Add("scope", "openid profile", "access_token", "x.y", int64(3600))
	f.Add("a<", "\x00\"\\", "", "\u2028", int64(-1))
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, n int64) {
		m := map[string]any{k1: v1, k2: v2, "expires_in": n}
		got, ok := appendTokenJSON(nil, m)
		if !ok {
			return
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

// TestAppendTokenJSONTakesFositeMembers: the members fosite sets are written
// without encoding/json; a test of the fast path, which the comparison with
// fosite alone would pass through the fallback too.
func TestAppendTokenJSONTakesFositeMembers(t *testing.T) {
	r := fosite.NewAccessResponse()
	r.SetAccessToken("at.123")
	r.SetTokenType("bearer")
	r.SetExpiresIn(time.Hour)
	r.SetScopes(fosite.Arguments{"openid", "api.read"})
	r.SetExtra("refresh_token", "rt.456")
	r.SetExtra("id_token", "eyJ.eyJ.sig")
	if _, ok := appendTokenJSON(nil, r.ToMap()); !ok {
		t.Errorf("fell back to encoding/json for %v", r.ToMap())
	}
}
