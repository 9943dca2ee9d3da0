// Package otelx stands in for github.com/ory/x/otelx, keeping only End, the
// one function fosite v0.49.0 calls (deferred, at the end of its traced
// methods).
package otelx

import (
	"fmt"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// End ends span. Deferred during a panic, it marks the span as failed and
// lets the panic go on; otherwise a non-nil *err marks the span as failed
// and is recorded on it as an error event.
//
// authz installs no tracer provider, so fosite's spans record nothing; End
// must still end them and must never swallow a panic.
func End(span trace.Span, err *error) {
	defer span.End()
	// recover works here because End itself is the deferred call.
	if r := recover(); r != nil {
		span.SetStatus(codes.Error, fmt.Sprintf("panic: %v", r))
		panic(r)
	}
	if err != nil && *err != nil {
		span.RecordError(*err)
		span.SetStatus(codes.Error, (*err).Error())
	}
}
