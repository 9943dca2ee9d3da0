package oauth

import (
	"os"
	"testing"

	"github.com/authz/authz/internal/testsupport/clienttransport"
)

// TestMain keeps the parallel tests' POSTs through http.DefaultClient clear
// of the idle-connection closing of every httptest server's Close.
func TestMain(m *testing.M) {
	clienttransport.Isolate()
	os.Exit(m.Run())
}
