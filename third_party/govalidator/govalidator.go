// Package govalidator provides IsRequestURL of
// github.com/asaskevich/govalidator with the same behaviour; fosite uses it
// to check redirect URIs.
package govalidator

import "net/url"

// IsRequestURL reports whether rawurl, as received in an HTTP request, is an
// absolute URL: url.ParseRequestURI accepts it and it has a scheme.
func IsRequestURL(rawurl string) bool {
	u, err := url.ParseRequestURI(rawurl)
	if err != nil {
		return false
	}
	return u.Scheme != ""
}
