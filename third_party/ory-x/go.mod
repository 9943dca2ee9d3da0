// A stand-in for github.com/ory/x holding only what fosite v0.49.0 imports
// from it (errorsx; otelx.End). The real module's otelx package imports every
// OpenTelemetry exporter, gRPC and protobuf, whose package initialisation
// alone cost authz about 3.5 MB of resident memory at idle. Used through the
// replace directive in authz's go.mod; tested in internal/oauth.
module github.com/ory/x

go 1.22

require (
	github.com/pkg/errors v0.9.1
	go.opentelemetry.io/otel v1.21.0
	go.opentelemetry.io/otel/trace v1.21.0
)
