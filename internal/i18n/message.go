package i18n

import (
	"context"
	"slices"
)

// Message is text whose language is not known yet: a catalog ID and the
// values of its variables as name-value pairs, as T takes them. A value
// that is itself a Message is rendered in the same language, so that a
// sentence can hold a translated label. Services that refuse a request
// return Messages; each face renders them in its reader's language.
type Message struct {
	ID   string
	Args []any
}

// M is the Message id with the variables kv: M("admin.err.query", "Max", 100).
func M(id string, kv ...any) Message { return Message{ID: id, Args: kv} }

// Text renders m in ctx's language.
func (m Message) Text(ctx context.Context) string { return m.render(from(ctx).lang) }

// English renders m in Fallback, the catalogs' source language: for
// programs (JSON APIs, the command line) and logs, which read one language.
func (m Message) English() string { return m.render(Fallback) }

func (m Message) render(lang string) string {
	kv := slices.Clone(m.Args)
	for i := 1; i < len(kv); i += 2 {
		if inner, ok := kv[i].(Message); ok {
			kv[i] = inner.render(lang)
		}
	}
	return catalog.text(lang, m.ID, pairs(kv), nil)
}
