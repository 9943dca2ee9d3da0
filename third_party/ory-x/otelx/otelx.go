// Package otelx provides End, the only part of github.com/ory/x/otelx that
// fosite uses, with the same behaviour; the rest of that package (exporter
// set-up, middleware) is left out with everything it imports.
package otelx

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// End ends span. When called deferred during a panic it marks the span as
// failed and panics on with the same value; otherwise a non-nil *err marks
// the span as failed, with the error's reason, debug text, ID and details as
// attributes.
func End(span trace.Span, err *error) {
	defer span.End()
	if r := recover(); r != nil {
		switch v := r.(type) {
		case error:
			span.SetStatus(codes.Error, "panic: "+v.Error())
			annotate(span, v)
		case string, fmt.Stringer:
			span.SetStatus(codes.Error, fmt.Sprintf("panic: %v", v))
		default:
			span.SetStatus(codes.Error, "panic")
		}
		panic(r)
	}
	if err == nil || *err == nil {
		return
	}
	span.SetStatus(codes.Error, (*err).Error())
	annotate(span, *err)
}

func annotate(span trace.Span, err error) {
	if e := interface{ Reason() string }(nil); errors.As(err, &e) {
		span.SetAttributes(attribute.String("error.reason", e.Reason()))
	}
	if e := interface{ Debug() string }(nil); errors.As(err, &e) {
		span.SetAttributes(attribute.String("error.debug", e.Debug()))
	}
	if e := interface{ ID() string }(nil); errors.As(err, &e) {
		span.SetAttributes(attribute.String("error.id", e.ID()))
	}
	if e := interface{ Details() map[string]interface{} }(nil); errors.As(err, &e) {
		for k, v := range e.Details() {
			span.SetAttributes(attribute.String("error.details."+k, fmt.Sprintf("%v", v)))
		}
	}
	span.SetAttributes(attribute.String("error", err.Error()))
}
