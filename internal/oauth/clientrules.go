package oauth

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// FieldError names the field of a client registration that is wrong.
// Reason says why in English, for programs; Rule names the rule broken (one
// of the Rule constants) and Value the entry at fault, if the reason names
// one, for callers that word the reason themselves (the administration
// console, in its reader's language).
type FieldError struct {
	Field  string
	Reason string
	Rule   string
	Value  string
}

// The rules of a client registration, as FieldError.Rule names them.
const (
	RuleNotAbsolute             = "not_absolute"
	RuleFragment                = "fragment"
	RuleWildcard                = "wildcard"
	RuleCredentials             = "credentials"
	RuleHTTPSOrLoopback         = "https_or_loopback"
	RuleHTTPS                   = "https"
	RuleName                    = "name"
	RuleGrantRequired           = "grant_required"
	RuleGrantUnknown            = "grant_unknown"
	RulePublicClientCredentials = "public_client_credentials"
	RuleRedirectNeeded          = "redirect_needed"
	RuleScope                   = "scope"
	RuleDuplicates              = "duplicates"
)

// AllowedGrantTypes lists the grant types a client may register, as the
// reason of RuleGrantUnknown names them.
func AllowedGrantTypes() string { return strings.Join(allowedGrantTypes, ", ") }

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Grant types a client may register.
var allowedGrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}

// ValidateRedirectURI checks a redirect or post-logout URI: absolute, no
// fragment, no wildcard, and https unless it points at the loopback interface.
func ValidateRedirectURI(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return &FieldError{field, fmt.Sprintf("%q is not an absolute URL", raw), RuleNotAbsolute, raw}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return &FieldError{field, fmt.Sprintf("%q must not contain a fragment", raw), RuleFragment, raw}
	}
	if strings.Contains(raw, "*") {
		return &FieldError{field, fmt.Sprintf("%q must not contain wildcards", raw), RuleWildcard, raw}
	}
	if u.User != nil {
		return &FieldError{field, fmt.Sprintf("%q must not contain credentials", raw), RuleCredentials, raw}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return &FieldError{field, fmt.Sprintf("%q must use https (http is allowed for loopback addresses only)", raw), RuleHTTPSOrLoopback, raw}
		}
	default:
		return &FieldError{field, fmt.Sprintf("%q must use https", raw), RuleHTTPS, raw}
	}
	return nil
}

// redirectRegistered reports whether uri may receive a client's
// authorization responses: it is one of the client's registered URIs
// exactly, or, for a native app (RFC 8252 §7.3), a registered http URI on a
// loopback IP literal with another port, which the app picks when it runs.
func redirectRegistered(registered []string, uri string) bool {
	if uri == "" {
		return false
	}
	if slices.Contains(registered, uri) {
		return true
	}
	req, err := url.Parse(uri)
	if err != nil || req.Scheme != "http" || req.User != nil || strings.Contains(uri, "#") {
		return false
	}
	if ip := net.ParseIP(req.Hostname()); ip == nil || !ip.IsLoopback() {
		return false
	}
	for _, r := range registered {
		reg, err := url.Parse(r)
		if err == nil && reg.Scheme == "http" && reg.User == nil && reg.Hostname() == req.Hostname() &&
			reg.EscapedPath() == req.EscapedPath() && reg.RawQuery == req.RawQuery && reg.ForceQuery == req.ForceQuery {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ValidateClientFields checks a registration's lists.
func ValidateClientFields(name string, public bool, redirects, postLogout, grants, scopes []string) error {
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return &FieldError{"name", "must be 1 to 200 characters", RuleName, ""}
	}
	for _, u := range redirects {
		if err := ValidateRedirectURI("redirect_uris", u); err != nil {
			return err
		}
	}
	for _, u := range postLogout {
		if err := ValidateRedirectURI("post_logout_redirect_uris", u); err != nil {
			return err
		}
	}
	if len(grants) == 0 {
		return &FieldError{"grant_types", "at least one grant type is required", RuleGrantRequired, ""}
	}
	for _, g := range grants {
		if !slices.Contains(allowedGrantTypes, g) {
			return &FieldError{"grant_types", fmt.Sprintf("%q is not one of %s", g, AllowedGrantTypes()), RuleGrantUnknown, g}
		}
		if g == "client_credentials" && public {
			return &FieldError{"grant_types", "public clients cannot use client_credentials", RulePublicClientCredentials, ""}
		}
	}
	if slices.Contains(grants, "authorization_code") && len(redirects) == 0 {
		return &FieldError{"redirect_uris", "the authorization_code grant needs at least one redirect URI", RuleRedirectNeeded, ""}
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			return &FieldError{"scopes", fmt.Sprintf("%q is not a valid scope", s), RuleScope, s}
		}
	}
	if hasDuplicates(redirects) || hasDuplicates(postLogout) || hasDuplicates(grants) || hasDuplicates(scopes) {
		return &FieldError{"redirect_uris", "lists must not contain duplicates", RuleDuplicates, ""}
	}
	return nil
}

func hasDuplicates(list []string) bool {
	seen := map[string]bool{}
	for _, v := range list {
		if seen[v] {
			return true
		}
		seen[v] = true
	}
	return false
}
