// Package clienttransport gives a test process's default HTTP client a
// transport of its own.
//
// httptest.Server.Close closes every idle connection of
// http.DefaultTransport, whichever server it leads to. A request that picked
// one of them at that moment fails with "http: CloseIdleConnections called",
// and net/http retries it only when it is replayable: a POST is not. Tests
// that run in parallel close their httptest servers at any time, so a POST
// of another test would fail now and then. Call Isolate from TestMain:
//
//	func TestMain(m *testing.M) {
//		clienttransport.Isolate()
//		os.Exit(m.Run())
//	}
package clienttransport

import "net/http"

// Isolate points http.DefaultClient at a copy of http.DefaultTransport that
// httptest servers do not close. Requests made through http.DefaultClient,
// http.Get, http.Post and the oauth2 and go-oidc packages (which fall back
// to http.DefaultClient) then keep their connections until they are done.
// It is not safe to call while requests are running.
func Isolate() {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		http.DefaultClient = &http.Client{Transport: t.Clone()}
	}
}

// Transport returns the transport of http.DefaultClient: after Isolate the
// one httptest servers do not close, before it http.DefaultTransport.
func Transport() http.RoundTripper {
	if t := http.DefaultClient.Transport; t != nil {
		return t
	}
	return http.DefaultTransport
}
