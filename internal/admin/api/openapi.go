package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes the admin API (OpenAPI 3.1). It is written by
// hand; TestOpenAPIMatchesRoutes keeps it and the routes in step.
//
//go:embed openapi.json
var openAPIDocument []byte

// serveOpenAPI serves the document without authentication: it describes the
// API, and holds nothing about this server's data.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
}
