package clienttransport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"
)

// TestIsolate: once isolated, closing an unrelated httptest server leaves
// the default client's idle connection open for its next request, where
// before it closed it.
func TestIsolate(t *testing.T) {
	saved := http.DefaultClient
	t.Cleanup(func() { http.DefaultClient = saved })
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	get := func() (reused bool) {
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return reused
	}
	keptAfterOtherServerClosed := func() bool {
		get()
		httptest.NewServer(http.NotFoundHandler()).Close()
		return get()
	}
	if keptAfterOtherServerClosed() {
		t.Fatal("the shared transport kept its idle connection: the test no longer shows the failure Isolate avoids")
	}
	Isolate()
	if Transport() == http.DefaultTransport {
		t.Fatal("Transport is still http.DefaultTransport after Isolate")
	}
	if !keptAfterOtherServerClosed() {
		t.Error("closing another httptest server closed the isolated client's idle connection")
	}
}
