package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/authz/authz/internal/i18n"
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
// Field uses the API's field names.
//
// The refusal comes in two forms. Texts are its sentences as catalog
// messages (internal/i18n), which the console shows in its reader's
// language (Text). Message is the same in English: the JSON API and the
// command line are read by programs and scripts, and answer in English
// only.
type Error struct {
	Kind    Kind
	Field   string
	Message string
	Texts   []i18n.Message
}

// NewError is the refusal of field with the sentences texts; its Message is
// their English.
func NewError(kind Kind, field string, texts ...i18n.Message) *Error {
	return &Error{Kind: kind, Field: field, Texts: texts, Message: joinTexts(texts, i18n.Message.English)}
}

// Text is the refusal in ctx's language, for people.
func (e *Error) Text(ctx context.Context) string {
	if len(e.Texts) == 0 {
		return e.Message
	}
	return joinTexts(e.Texts, func(m i18n.Message) string { return m.Text(ctx) })
}

// joinTexts renders texts one after another, as the language writes
// sentences in a row (admin.err.join).
func joinTexts(texts []i18n.Message, render func(i18n.Message) string) string {
	if len(texts) == 0 {
		return ""
	}
	out := texts[len(texts)-1]
	for i := len(texts) - 2; i >= 0; i-- {
		out = i18n.M("admin.err.join", "First", texts[i], "Rest", out)
	}
	return render(out)
}

// Error implements error: the field, then the message.
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// msgBadCursor refuses a page cursor that no list of this filter made.
const msgBadCursor = "admin.err.bad_cursor"

// pageError turns the store's refusal of a cursor into the caller's
// mistake; other errors are wrapped with what was listed.
func pageError(err error, what string) error {
	if errors.Is(err, store.ErrBadCursor) {
		return invalid("cursor", msgBadCursor)
	}
	return fmt.Errorf("admin: list %s: %w", what, err)
}

// invalid, conflict and notFound refuse with the catalog message id and its
// variables kv (see i18n.M).
func invalid(field, id string, kv ...any) error {
	return NewError(KindInvalid, field, i18n.M(id, kv...))
}

func conflict(field, id string, kv ...any) error {
	return NewError(KindConflict, field, i18n.M(id, kv...))
}

func notFound(id string) error { return NewError(KindNotFound, "", i18n.M(id)) }

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return nil
}
