package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds what the tool reads of an answer; authz's are far smaller.
const maxBody = 1 << 20

// tokenResponse is the token endpoint's answer (RFC 6749 §5.1, OIDC §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

// postForm posts form to path, authenticated as c with client_secret_basic,
// and returns the status and body.
func (e *env) postForm(ctx context.Context, path string, form url.Values, c Client) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.target+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	return resp.StatusCode, body, nil
}

// token calls the token endpoint and insists on a 200 with an access token.
func token(ctx context.Context, p poster, form url.Values, c Client) (*tokenResponse, error) {
	status, body, err := p.postForm(ctx, "/oauth2/token", form, c)
	if err != nil {
		return nil, err
	}
	var tr tokenResponse
	_ = json.Unmarshal(body, &tr)
	if status != http.StatusOK {
		return nil, &StatusError{Step: "POST /oauth2/token", Status: status, Detail: tr.Error}
	}
	if tr.AccessToken == "" {
		return nil, errors.New("token endpoint: 200 without an access token")
	}
	return &tr, nil
}

func (e *env) clientCredentialsToken(ctx context.Context, p poster) (*tokenResponse, error) {
	return token(ctx, p, url.Values{"grant_type": {"client_credentials"}, "scope": {APIScope}}, e.opts.Seed.Machine)
}

// clientCredentials: one client_credentials token request per operation.
func clientCredentials(_ context.Context, e *env) (op, error) {
	d, err := e.direct()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := e.clientCredentialsToken(ctx, d)
		return err
	}, nil
}

// clientCredentialsJWT: one client_credentials token request per operation
// by the client whose access tokens are JWTs; the answer must be one.
func clientCredentialsJWT(_ context.Context, e *env) (op, error) {
	d, err := e.direct()
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {APIScope}}
	return func(ctx context.Context) error {
		tr, err := token(ctx, d, form, e.opts.Seed.JWTMachine)
		if err != nil {
			return err
		}
		if strings.Count(tr.AccessToken, ".") != 2 {
			return errors.New("token endpoint: the JWT client got no JWT")
		}
		return nil
	}, nil
}

// introspect: each worker gets one access token, then introspects it over and
// over, as a resource server without a cache would.
func introspect(ctx context.Context, e *env) (op, error) {
	tok, err := e.clientCredentialsToken(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("get a token to introspect: %w", err)
	}
	d, err := e.direct()
	if err != nil {
		return nil, err
	}
	form := url.Values{"token": {tok.AccessToken}}
	return func(ctx context.Context) error {
		status, body, err := d.postForm(ctx, "/oauth2/introspect", form, e.opts.Seed.Machine)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return &StatusError{Step: "POST /oauth2/introspect", Status: status}
		}
		var out struct {
			Active bool `json:"active"`
		}
		if err := json.Unmarshal(body, &out); err != nil || !out.Active {
			return errors.New("introspection: token not active")
		}
		return nil
	}, nil
}

// refresh: each worker signs a user in once, then rotates its refresh token
// over and over; every answer carries a new ID token, verified like the
// login's.
func refresh(ctx context.Context, e *env) (op, error) {
	tok, err := e.signIn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign in for a refresh token: %w", err)
	}
	if tok.RefreshToken == "" {
		return nil, errors.New("sign-in returned no refresh token (offline_access not granted?)")
	}
	current := tok.RefreshToken
	d, err := e.direct()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if current == "" {
			// The last rotation failed half-way, so the chain is lost (and
			// reusing its token would revoke the grant): start a new one.
			tok, err := e.signIn(ctx)
			if err != nil {
				return err
			}
			current = tok.RefreshToken
		}
		tr, err := token(ctx, d, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}, e.opts.Seed.Web)
		if err != nil {
			current = ""
			return err
		}
		if tr.RefreshToken == "" {
			current = ""
			return errors.New("refresh: no new refresh token")
		}
		current = tr.RefreshToken
		if tr.IDToken != "" {
			if _, err := e.oidc.verifier.Verify(ctx, tr.IDToken); err != nil {
				return fmt.Errorf("refresh: ID token: %w", err)
			}
		}
		return nil
	}, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
}
