package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/authz/authz/internal/mfa"
)

// userPool hands out seeded users round-robin. A code is accepted once per
// user and time step, so a user whose current step is used is skipped; when
// every user's is, the worker waits for the next step (and the report says
// so). Steps are written back into the seed, so runs one after another on the
// same seed do not reuse a code either.
type userPool struct {
	mu    sync.Mutex
	users []User
	busy  []bool
	next  int
	waits atomic.Int64
}

func newUserPool(users []User) *userPool {
	return &userPool{users: users, busy: make([]bool, len(users))}
}

// acquire returns the index of a user free at the current step.
func (p *userPool) acquire(ctx context.Context) (int, error) {
	for {
		step := mfa.Step(time.Now())
		if i, ok := p.tryAcquire(step); ok {
			return i, nil
		}
		p.waits.Add(1)
		next := time.Unix((step+1)*int64(mfa.Period/time.Second), 0)
		t := time.NewTimer(time.Until(next) + 10*time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
	}
}

func (p *userPool) tryAcquire(step int64) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.users {
		i := (p.next + k) % len(p.users)
		if !p.busy[i] && p.users[i].LastStep < step {
			p.busy[i], p.next = true, i+1
			return i, true
		}
	}
	return 0, false
}

// release gives user i back; usedStep, when not 0, is the step whose code the
// server may have accepted.
func (p *userPool) release(i int, usedStep int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy[i] = false
	if usedStep > p.users[i].LastStep {
		p.users[i].LastStep = usedStep
	}
}

func (p *userPool) user(i int) User {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.users[i]
}

// oidcVerifier checks ID tokens the way a relying party built on go-oidc does.
type oidcVerifier struct {
	verifier *oidc.IDTokenVerifier
}

func newOIDCVerifier(ctx context.Context, e *env) (*oidcVerifier, error) {
	// The key set outlives this call: give it a context that is never
	// cancelled, carrying the tool's HTTP client.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), e.client)
	p, err := oidc.NewProvider(pctx, e.target)
	if err != nil {
		return nil, fmt.Errorf("OpenID discovery at %s: %w", e.target, err)
	}
	return &oidcVerifier{verifier: p.Verifier(&oidc.Config{ClientID: e.opts.Seed.Web.ID})}, nil
}

// loginJourney: each operation is one whole sign-in of a seeded user, from
// the authorization request to a verified ID token.
func loginJourney(_ context.Context, e *env) (op, error) {
	return func(ctx context.Context) error {
		_, err := e.signIn(ctx)
		return err
	}, nil
}

// signIn walks the browser journey for the next free user and exchanges the
// code, returning the verified tokens.
func (e *env) signIn(ctx context.Context) (*tokenResponse, error) {
	i, err := e.users.acquire(ctx)
	if err != nil {
		return nil, err
	}
	var usedStep int64
	defer func() { e.users.release(i, usedStep) }()
	j, err := e.newJourney()
	if err != nil {
		return nil, err
	}
	return j.run(ctx, e.users.user(i), &usedStep)
}

// journey is one browser: its own cookies, its own PKCE verifier and nonce.
type journey struct {
	e                      *env
	browser                *http.Client
	state, nonce, verifier string
	// csrf is the secret of the page read last; every form of one login
	// transaction carries the same one.
	csrf string
}

func (e *env) newJourney() (*journey, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	b := &http.Client{Transport: e.client.Transport, Jar: jar, Timeout: e.client.Timeout,
		// Redirects are followed by hand, to check each one and stop at the
		// relying party's callback.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &journey{e: e, browser: b, state: randomHex(8), nonce: randomHex(8), verifier: pkceVerifier()}, nil
}

func (j *journey) run(ctx context.Context, u User, usedStep *int64) (*tokenResponse, error) {
	loc, err := j.get(ctx, j.authorizeURL(), http.StatusSeeOther)
	if err != nil {
		return nil, err
	}
	if _, err := j.page(ctx, loc, "/login/password"); err != nil {
		return nil, err
	}
	if _, err := j.submit(ctx, loc, "/login/password", url.Values{"username": {u.Username}, "password": {u.Password}}); err != nil {
		return nil, err
	}
	if _, err := j.page(ctx, loc, "/login/otp"); err != nil {
		return nil, err
	}
	now := time.Now()
	code, err := mfa.Code(u.OTPSecret, now)
	if err != nil {
		return nil, err
	}
	*usedStep = mfa.Step(now)
	back, err := j.submit(ctx, loc, "/login/otp", url.Values{"otp": {code}})
	if err != nil {
		return nil, err
	}
	authCode, err := j.callback(back)
	if err != nil {
		return nil, err
	}
	return j.exchange(ctx, authCode)
}

func (j *journey) authorizeURL() string {
	sum := sha256.Sum256([]byte(j.verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {j.e.opts.Seed.Web.ID},
		"redirect_uri":          {CallbackURL},
		"scope":                 {"openid profile email offline_access"},
		"state":                 {j.state},
		"nonce":                 {j.nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	return j.e.target + "/oauth2/auth?" + q.Encode()
}

// csrfPattern finds the pipeline forms' CSRF field; its value is base64url,
// which HTML leaves unescaped.
var csrfPattern = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]+)"`)

// get fetches rawURL, expects status want and returns the redirect target.
func (j *journey) get(ctx context.Context, rawURL string, want int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := j.browser.Do(req)
	if err != nil {
		return "", err
	}
	drain(resp)
	if resp.StatusCode != want {
		return "", &StatusError{Step: "GET " + pathOf(rawURL), Status: resp.StatusCode}
	}
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("GET %s: %d without a Location", pathOf(rawURL), resp.StatusCode)
	}
	return loc.String(), nil
}

// page loads a login page and checks it shows the form with action.
func (j *journey) page(ctx context.Context, rawURL, action string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := j.browser.Do(req)
	if err != nil {
		return "", err
	}
	body, err := readBody(resp)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &StatusError{Step: "GET /login", Status: resp.StatusCode}
	}
	if !strings.Contains(body, `action="`+action+`"`) {
		return "", fmt.Errorf("GET /login: expected the form of %s", action)
	}
	m := csrfPattern.FindStringSubmatch(body)
	if m == nil {
		return "", errors.New("GET /login: no CSRF field")
	}
	j.csrf = m[1]
	return body, nil
}

// submit posts a pipeline form and expects a redirect, whose target it
// returns.
func (j *journey) submit(ctx context.Context, pageURL, action string, fields url.Values) (*url.URL, error) {
	base, err := url.Parse(pageURL)
	if err != nil {
		return nil, err
	}
	fields.Set("csrf", j.csrf)
	target := base.ResolveReference(&url.URL{Path: action})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base.Scheme+"://"+base.Host)
	resp, err := j.browser.Do(req)
	if err != nil {
		return nil, err
	}
	drain(resp)
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		return nil, &StatusError{Step: "POST " + action, Status: resp.StatusCode}
	}
	return resp.Location()
}

// callback checks the redirect to the relying party and returns the code.
func (j *journey) callback(loc *url.URL) (string, error) {
	if !strings.HasPrefix(loc.String(), CallbackURL) {
		return "", fmt.Errorf("POST /login/otp: redirected to %s, not the callback", loc.Path)
	}
	q := loc.Query()
	switch {
	case q.Get("error") != "":
		return "", fmt.Errorf("authorization error %s", q.Get("error"))
	case q.Get("state") != j.state:
		return "", errors.New("callback: state does not match")
	case q.Get("code") == "":
		return "", errors.New("callback: no code")
	}
	return q.Get("code"), nil
}

// exchange redeems the code with the PKCE verifier and verifies the ID token
// and its nonce.
func (j *journey) exchange(ctx context.Context, code string) (*tokenResponse, error) {
	tr, err := token(ctx, j.e, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {CallbackURL}, "code_verifier": {j.verifier}}, j.e.opts.Seed.Web)
	if err != nil {
		return nil, err
	}
	idt, err := j.e.oidc.verifier.Verify(ctx, tr.IDToken)
	if err != nil {
		return nil, fmt.Errorf("ID token: %w", err)
	}
	if idt.Nonce != j.nonce {
		return nil, errors.New("ID token: nonce does not match")
	}
	return tr, nil
}

// pkceVerifier returns a fresh RFC 7636 code verifier (43 characters).
func pkceVerifier() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("loadgen: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func readBody(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return string(b), err
}

func pathOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Path
}

// Logins signs seeded users in one after another, each the whole journey of
// the login scenario: for counting what one login costs, where a timed run
// would end with a login half done.
type Logins struct{ e *env }

// NewLogins prepares sequential logins against o.Target with o.Seed's users
// (discovery and the ID token verifier are set up here, not per login).
func NewLogins(ctx context.Context, o Options) (*Logins, error) {
	o.Scenario, o.Workers = Login, 1
	if o.Duration == 0 {
		o.Duration = time.Second // unused; Validate wants one
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	e, err := newEnv(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Logins{e: e}, nil
}

// SignIn makes one login and checks its ID token.
func (l *Logins) SignIn(ctx context.Context) error {
	_, err := l.e.signIn(ctx)
	return err
}

// Refresher signs a user in and returns the refresh scenario's operation
// for that user: each call rotates the refresh token once and checks the new
// ID token.
func (l *Logins) Refresher(ctx context.Context) (func(context.Context) error, error) {
	return refresh(ctx, l.e)
}

// Close releases the connections.
func (l *Logins) Close() { l.e.client.CloseIdleConnections() }
