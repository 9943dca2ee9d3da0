package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store"
)

const adminUsage = `usage: authz [config flags] admin <object> <action> [flags] [--output text|json]

  admin user   list|get|create|update|delete|reset-otp|void-recovery-codes
  admin client list|get|create|update|delete|rotate-secret
  admin idp    list|get|create|update|delete|test
  admin audit  list

Lists show one page: --limit rows (at most 100) after --cursor, the "next"
cursor of the page before.

Run 'authz admin <object> <action> -h' for the flags.`

// adminRun carries out one admin command with the flags its builder bound;
// set names the flags given on the command line.
type adminRun func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error)

// adminCommand is one `authz admin <object> <action>`: it binds its flags
// and returns how to run.
type adminCommand struct {
	object, action string
	bind           func(fs *flag.FlagSet) adminRun
}

// adminCommands are the CLI face of admin.Service: the same operations, the
// same rules as the console and the API.
var adminCommands = slices.Concat(userCommands, clientCommands, idpCommands, auditCommands)

// runAdmin runs `authz admin <object> <action> [flags]`.
func runAdmin(ctx context.Context, env *environment, args []string) error {
	if len(args) < 2 {
		fmt.Fprintln(env.stderr, adminUsage)
		return usageError("admin needs an object and an action")
	}
	i := slices.IndexFunc(adminCommands, func(c adminCommand) bool { return c.object == args[0] && c.action == args[1] })
	if i < 0 {
		fmt.Fprintln(env.stderr, adminUsage)
		return usageError(fmt.Sprintf("unknown admin command %q", strings.Join(args[:2], " ")))
	}
	fs := flag.NewFlagSet("authz admin "+args[0]+" "+args[1], flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	output := fs.String("output", "text", "output format: text or json")
	run := adminCommands[i].bind(fs)
	if err := fs.Parse(args[2:]); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if *output != "text" && *output != "json" {
		return usageError("--output must be text or json")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	app, err := server.Open(ctx, env.cfg, env.log, env.stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	result, err := run(ctx, app.Admin, set)
	if err != nil {
		return cliError(err)
	}
	if *output == "json" {
		return printJSON(env, result)
	}
	return printText(env, result)
}

// cliError gives the service's refusals the CLI's exit statuses: a value to
// correct (or a conflict with stored state) is a usage error, 2; a missing
// object a plain failure, 1. The CLI speaks English (the refusal's Message),
// as do the scripts that read it.
func cliError(err error) error {
	e := admin.AsError(err)
	switch {
	case e == nil:
		return err
	case e.Kind == admin.KindNotFound:
		return errors.New(e.Message)
	case e.Field != "":
		return usageError(e.Field + ": " + e.Message)
	}
	return usageError(e.Message)
}

// required returns a usage error unless flag name was given.
func required(set map[string]bool, names ...string) error {
	for _, n := range names {
		if !set[n] {
			return usageError("--" + n + " is required")
		}
	}
	return nil
}

// listResult is the answer of a list command, shaped like the API's lists:
// one page, and the cursor of the next (null on the last).
type listResult struct {
	Items []any   `json:"items"`
	Next  *string `json:"next"`
	Limit int     `json:"limit"`
	// columns are the fields of each item the text output shows.
	columns []string
}

// newList starts the result of a page listed with pg.
func newList(pg store.Page, next string, columns []string) listResult {
	l := listResult{Items: []any{}, Limit: pg.Size(), columns: columns}
	if next != "" {
		l.Next = &next
	}
	return l
}

// pagingFlags binds --cursor and --limit.
func pagingFlags(fs *flag.FlagSet) (cursor *string, limit *int) {
	return fs.String("cursor", "", "show the page after this cursor (the \"next\" of the page before)"),
		fs.Int("limit", store.DefaultPageSize, "show at most this many (more than 100 shows 100)")
}

// page checks the paging flags: a limit above the maximum is clamped, one
// below 1 refused.
func page(cursor string, limit int) (store.Page, error) {
	if limit < 1 {
		return store.Page{}, usageError("--limit must be at least 1")
	}
	return store.Page{After: cursor, Limit: limit}, nil
}

// strFlag is a string flag that becomes a patch field only when given.
type strFlag struct {
	name  string
	value *string
}

func (f strFlag) patch(set map[string]bool) *string {
	if !set[f.name] {
		return nil
	}
	return f.value
}

// boolFlag is a boolean flag that becomes a patch field only when given.
type boolFlag struct {
	name  string
	value *bool
}

func (f boolFlag) patch(set map[string]bool) *bool {
	if !set[f.name] {
		return nil
	}
	return f.value
}

// listFlag is a comma-separated list flag that becomes a patch field only
// when given; an empty value is the empty list.
type listFlag struct {
	name  string
	value *string
}

func (f listFlag) patch(set map[string]bool) *[]string {
	if !set[f.name] {
		return nil
	}
	l := splitList(*f.value)
	if l == nil {
		l = []string{}
	}
	return &l
}

// printText shows a result for people: lists as tables, objects as one
// field a line in the API's order and names.
func printText(env *environment, result any) error {
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if l, ok := result.(listResult); ok {
		return printTable(tw, l)
	}
	fields, err := orderedFields(result)
	if err != nil {
		return err
	}
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
		if f[0] == "client_secret" && f[1] != "" {
			fmt.Fprintln(env.stderr, "authz: the client secret is shown once: store it now")
		}
	}
	return nil
}

func printTable(tw io.Writer, l listResult) error {
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(l.columns, "\t")))
	for _, item := range l.Items {
		fields, err := orderedFields(item)
		if err != nil {
			return err
		}
		row := make([]string, len(l.columns))
		for _, f := range fields {
			if i := slices.Index(l.columns, f[0]); i >= 0 {
				row[i] = f[1]
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if l.Next == nil {
		fmt.Fprintf(tw, "(%d shown, the last page)\n", len(l.Items))
		return nil
	}
	fmt.Fprintf(tw, "(%d shown; the next page: --cursor %s)\n", len(l.Items), *l.Next)
	return nil
}

// orderedFields renders v's JSON fields as text, in the order JSON has them.
func orderedFields(v any) ([][2]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var out [][2]string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var value any
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		out = append(out, [2]string{fmt.Sprint(key), textValue(value)})
	}
	return out, nil
}

func textValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = textValue(p)
		}
		return strings.Join(parts, " ")
	case map[string]any:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprint(v)
}

// readSecretFile reads a secret from path ("-": standard input), without the
// line end an editor or echo adds: secrets on the command line would show in
// the process list.
func readSecretFile(path string) (string, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 4096))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("read client secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
