// Package errorsx stands in for github.com/ory/x/errorsx, keeping the API
// and behaviour fosite v0.49.0 relies on: WithStack (its every error return),
// Cause (its i18n lookup) and the carrier interfaces its RFC6749Error
// implements.
package errorsx

import "github.com/pkg/errors"

// StackTracer is an error that carries a github.com/pkg/errors stack trace.
type StackTracer interface {
	StackTrace() errors.StackTrace
}

// WithStack records the caller's stack on err, unless err has a non-empty
// one already; nil stays nil.
func WithStack(err error) error {
	if tracer, ok := err.(StackTracer); ok && len(tracer.StackTrace()) > 0 {
		return err
	}
	return errors.WithStack(err)
}

// Cause returns the innermost error of a chain of Cause() methods: it stops
// at the first error without one, or whose Cause() is nil.
func Cause(err error) error {
	type causer interface{ Cause() error }
	for {
		c, ok := err.(causer)
		if !ok {
			return err
		}
		inner := c.Cause()
		if inner == nil {
			return err
		}
		err = inner
	}
}

// The carriers: errors that know more about themselves than their message.
type (
	// StatusCodeCarrier knows its HTTP status code.
	StatusCodeCarrier interface{ StatusCode() int }
	// RequestIDCarrier knows the ID of the request it came from.
	RequestIDCarrier interface{ RequestID() string }
	// ReasonCarrier knows why it happened.
	ReasonCarrier interface{ Reason() string }
	// DebugCarrier has text meant for debugging only.
	DebugCarrier interface{ Debug() string }
	// StatusCarrier knows its status text.
	StatusCarrier interface{ Status() string }
	// DetailsCarrier has structured details.
	DetailsCarrier interface{ Details() map[string]interface{} }
	// IDCarrier knows its application error ID.
	IDCarrier interface{ ID() string }
)
