package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// flagValue records a flag's raw value so it can be applied after the file and
// the environment, whatever the order on the command line.
type flagValue struct {
	k      key
	value  string
	set    bool
	isBool bool
}

func (f *flagValue) String() string { return f.value }

func (f *flagValue) Set(v string) error { f.value, f.set = v, true; return nil }

// IsBoolFlag lets boolean keys be given as a bare --flag.
func (f *flagValue) IsBoolFlag() bool { return f.isBool }

// Loader binds the configuration keys to a flag set.
type Loader struct {
	fs         *flag.FlagSet
	configFile *string
	flags      []*flagValue
}

// Register adds --config and one flag per key to fs.
func Register(fs *flag.FlagSet) *Loader {
	l := &Loader{fs: fs}
	l.configFile = fs.String("config", "", "YAML configuration file")
	for _, k := range keys {
		fv := &flagValue{k: k, isBool: k.boolean}
		fs.Var(fv, k.FlagName(), k.doc)
		l.flags = append(l.flags, fv)
	}
	return l
}

// Load builds the configuration after fs has parsed its arguments: defaults, then
// the YAML file, then the environment (lookupEnv, usually os.LookupEnv), then flags.
func (l *Loader) Load(lookupEnv func(string) (string, bool)) (*Config, error) {
	c := &Config{}
	for _, k := range keys {
		if err := k.set(c, k.def); err != nil {
			return nil, fmt.Errorf("config: default of %s: %w", k.name, err)
		}
	}
	if *l.configFile != "" {
		values, err := readFile(*l.configFile)
		if err != nil {
			return nil, err
		}
		if err := apply(c, values, "file "+*l.configFile); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if v, ok := lookupEnv(k.EnvName()); ok {
			if err := k.set(c, v); err != nil {
				return nil, &Error{Key: k.name, Source: "env " + k.EnvName(), Reason: err.Error()}
			}
		}
	}
	for _, f := range l.flags {
		if f.set {
			if err := f.k.set(c, f.value); err != nil {
				return nil, &Error{Key: f.k.name, Source: "flag --" + f.k.FlagName(), Reason: err.Error()}
			}
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// apply sets the flattened file values, refusing keys that do not exist.
func apply(c *Config, values map[string]string, source string) error {
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k, ok := lookup(n)
		if !ok {
			return &Error{Key: n, Source: source, Reason: "unknown key; see the configuration reference in README.md"}
		}
		if err := k.set(c, values[n]); err != nil {
			return &Error{Key: n, Source: source, Reason: err.Error()}
		}
	}
	return nil
}

func lookup(name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// readFile parses a YAML file into dotted keys and scalar (or list) values.
func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Reason: fmt.Sprintf("cannot read config file: %v", err)}
	}
	return parseYAML(data, path)
}

func parseYAML(data []byte, source string) (map[string]string, error) {
	var root map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{Reason: fmt.Sprintf("%s is not valid YAML: %v", source, err)}
	}
	out := map[string]string{}
	if err := flatten("", root, out); err != nil {
		return nil, &Error{Key: err.key, Source: "file " + source, Reason: err.reason}
	}
	return out, nil
}

type flattenError struct{ key, reason string }

func flatten(prefix string, m map[string]any, out map[string]string) *flattenError {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch v := v.(type) {
		case map[string]any:
			if err := flatten(name, v, out); err != nil {
				return err
			}
		case []any:
			parts := make([]string, 0, len(v))
			for _, e := range v {
				if _, nested := e.(map[string]any); nested {
					return &flattenError{name, "a list of scalars was expected"}
				}
				parts = append(parts, fmt.Sprint(e))
			}
			out[name] = strings.Join(parts, ",")
		case nil:
			out[name] = ""
		default:
			out[name] = fmt.Sprint(v)
		}
	}
	return nil
}
