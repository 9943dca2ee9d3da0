package admin

import (
	"errors"
	"fmt"

	"github.com/authz/authz/internal/store"
)

// Kind sorts the errors an operation reports to its caller.
type Kind int

// Error kinds.
const (
	// KindInvalid is a value the caller must correct.
	KindInvalid Kind = iota + 1
	// KindConflict is a request that clashes with stored state: a name taken,
	// the last administrator.
	KindConflict
	// KindNotFound is an addressed object that does not exist.
	KindNotFound
)

// Error is a refusal the caller can act on, naming the field at fault.
// Message is a sentence for people; Field uses the API's field names.
type Error struct {
	Kind    Kind
	Field   string
	Message string
}

// Error implements error: the field, then the message.
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// msgBadCursor refuses a page cursor that no list of this filter made.
const msgBadCursor = "This page link is invalid or belongs to another list or search; start again from the first page."

// pageError turns the store's refusal of a cursor into the caller's
// mistake; other errors are wrapped with what was listed.
func pageError(err error, what string) error {
	if errors.Is(err, store.ErrBadCursor) {
		return invalid("cursor", msgBadCursor)
	}
	return fmt.Errorf("admin: list %s: %w", what, err)
}

func invalid(field, msg string) error  { return &Error{Kind: KindInvalid, Field: field, Message: msg} }
func conflict(field, msg string) error { return &Error{Kind: KindConflict, Field: field, Message: msg} }
func notFound(msg string) error        { return &Error{Kind: KindNotFound, Message: msg} }

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return nil
}
