package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxKeyFileSize bounds what LoadOrCreateKeyFile reads, so a path pointing at
// the wrong file (a log, a device) fails fast instead of filling memory.
const maxKeyFileSize = 1024

// ParseKey decodes a sealing key given in configuration as base64 (standard or
// URL alphabet, padded or not; surrounding space ignored). The key itself never
// appears in the error.
func ParseKey(s string) ([]byte, error) {
	key, err := decodeKey(s)
	if err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	return key, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	encodings := []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	}
	for _, enc := range encodings {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("base64 decodes to %d bytes, want %d", len(key), KeySize)
		}
		return key, nil
	}
	return nil, errors.New("not valid base64")
}

// LoadOrCreateKeyFile returns the key stored base64-encoded at path, creating
// the file with a fresh random key (mode 0600, its directory 0700) when it does
// not exist. This is how the embedded default keeps a stable key without any
// configuration. Creation is atomic: a concurrent caller, or a crash half way,
// never leaves a partial or second key behind.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	return createKeyFile(path)
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: open key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("seal: read key file %s: %w", path, err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("seal: key file %s: larger than %d bytes, not a key file", path, maxKeyFileSize)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("seal: key file %s: %w (want the base64 of %d random bytes)", path, err, KeySize)
	}
	return key, nil
}

func createKeyFile(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("seal: create key directory: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("seal: generate key: %w", err)
	}
	tmp, err := writeTemp(dir, base64.StdEncoding.EncodeToString(key)+"\n")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	// Link, unlike Rename, refuses to replace an existing file: if another
	// process created the key meanwhile, both must end up using that one.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("seal: create key file: %w", err)
	}
	syncDir(dir)
	return key, nil
}

// writeTemp writes content to a new 0600 file in dir and returns its name; the
// content is flushed to disk before the file becomes visible under its name.
func writeTemp(dir, content string) (string, error) {
	f, err := os.CreateTemp(dir, ".seal-key-*")
	if err != nil {
		return "", fmt.Errorf("seal: create key file in %s: %w", dir, err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(content)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("seal: write key file in %s: %w", dir, err)
	}
	return name, nil
}

// syncDir makes the new directory entry durable. It is best effort: some
// platforms cannot fsync a directory, and the key is already safely written.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
