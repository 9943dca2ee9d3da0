// Package errorsx provides the part of github.com/ory/x/errorsx that fosite
// uses, with the same behaviour.
package errorsx

import "github.com/pkg/errors"

// Cause follows Cause() links while the error has a non-nil cause and
// returns the innermost error; nil stays nil.
func Cause(err error) error {
	type causer interface{ Cause() error }
	for err != nil {
		c, ok := err.(causer)
		if !ok || c.Cause() == nil {
			return err
		}
		err = c.Cause()
	}
	return err
}

// WithStack is errors.WithStack, except that an error which already carries
// a stack trace is returned as it is.
func WithStack(err error) error {
	if st, ok := err.(StackTracer); ok && len(st.StackTrace()) > 0 {
		return err
	}
	return errors.WithStack(err)
}

// StackTracer is an error with a pkg/errors stack trace.
type StackTracer interface{ StackTrace() errors.StackTrace }

// StatusCodeCarrier is an error that knows its HTTP status code.
type StatusCodeCarrier interface{ StatusCode() int }

// RequestIDCarrier is an error that knows the ID of the request it came from.
type RequestIDCarrier interface{ RequestID() string }

// ReasonCarrier is an error with a reason.
type ReasonCarrier interface{ Reason() string }

// DebugCarrier is an error with debug information.
type DebugCarrier interface{ Debug() string }

// StatusCarrier is an error with a status text.
type StatusCarrier interface{ Status() string }

// DetailsCarrier is an error with details.
type DetailsCarrier interface{ Details() map[string]interface{} }

// IDCarrier is an error with an application error ID.
type IDCarrier interface{ ID() string }
