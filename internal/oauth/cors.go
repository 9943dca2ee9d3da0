package oauth

import "net/http"

// The answers of crossOrigin and preflight, shared by every response: Header
// replaces a slice on Set and Add appends to a full one, so nothing writes
// into them.
var (
	anyOrigin      = []string{"*"}
	exposedHeaders = []string{"WWW-Authenticate, Retry-After"}
	allowedMethods = []string{"GET, POST"}
	allowedHeaders = []string{"Authorization, Content-Type"}
	preflightAge   = []string{"600"}
)

// crossOrigin lets applications in browsers (single-page apps with PKCE)
// read the answers of h: discovery, the keys, the token, userinfo, PAR and
// revocation endpoints. Any origin may: these endpoints authenticate a
// client or a bearer token, never a cookie, so a page of another site gains
// nothing it could not get from its own server. Credentials mode stays off.
// The headers go on every answer, with an Origin or without: a shared cache
// may keep an answer fetched by a server (the keys are public for a minute)
// and hand it to a browser, which must be able to read it.
func crossOrigin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Access-Control-Allow-Origin"] = anyOrigin
		w.Header()["Access-Control-Expose-Headers"] = exposedHeaders
		h(w, r)
	}
}

// preflight answers a CORS preflight for a crossOrigin endpoint: a bearer
// token in Authorization and a form or JSON body are what they take.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Access-Control-Allow-Origin"] = anyOrigin
	h["Access-Control-Allow-Methods"] = allowedMethods
	h["Access-Control-Allow-Headers"] = allowedHeaders
	h["Access-Control-Max-Age"] = preflightAge
	w.WriteHeader(http.StatusNoContent)
}
