package seal

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xFB, 0xEF, 0x01}, 11)[:KeySize] // exercises +/ vs -_
	for name, s := range map[string]string{
		"std":        base64.StdEncoding.EncodeToString(key),
		"raw std":    base64.RawStdEncoding.EncodeToString(key),
		"url":        base64.URLEncoding.EncodeToString(key),
		"raw url":    base64.RawURLEncoding.EncodeToString(key),
		"whitespace": "  " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil {
			t.Errorf("%s: ParseKey: %v", name, err)
			continue
		}
		if !bytes.Equal(got, key) {
			t.Errorf("%s: ParseKey = %x, want %x", name, got, key)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	for name, s := range map[string]string{
		"empty":     "",
		"spaces":    "   ",
		"short":     base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"long":      base64.StdEncoding.EncodeToString(make([]byte, 33)),
		"not b64":   "this is not base64 at all!!",
		"hex":       strings.Repeat("ab", 32),
		"truncated": base64.StdEncoding.EncodeToString(make([]byte, 32))[:40],
	} {
		_, err := ParseKey(s)
		if err == nil {
			t.Errorf("%s: ParseKey(%q) succeeded", name, s)
			continue
		}
		if len(strings.TrimSpace(s)) > 8 && strings.Contains(err.Error(), strings.TrimSpace(s)) {
			t.Errorf("%s: error %q leaks the key", name, err)
		}
	}
}

func TestLoadOrCreateKeyFileCreatesThenReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "seal.key")
	key, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(key) != KeySize {
		t.Fatalf("len(key) = %d", len(key))
	}
	assertMode(t, path, 0o600)
	assertMode(t, dir, 0o700|os.ModeDir)

	again, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !bytes.Equal(key, again) {
		t.Fatal("second call returned a different key")
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile, err := ParseKey(string(content)); err != nil || !bytes.Equal(fromFile, key) {
		t.Fatalf("file content %q does not hold the key (err %v)", content, err)
	}
	assertOnlyFile(t, dir, "seal.key")
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seal.key")
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKeyFile(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got a different key: a concurrent create replaced the file", i)
		}
	}
	assertOnlyFile(t, filepath.Dir(path), "seal.key")
}

func TestLoadOrCreateKeyFileRejectsBadContent(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage":  "hello world\n",
		"short":    base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"empty":    "",
		"too long": strings.Repeat("A", 5000),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreateKeyFile(path)
		if err == nil {
			t.Errorf("%s: accepted a bad key file", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Errorf("%s: bad key file was overwritten", name)
		}
	}
}

func TestLoadOrCreateKeyFileUnwritableDirectory(t *testing.T) {
	// A regular file where the data directory should be blocks creation even
	// for root, unlike permission bits.
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreateKeyFile(filepath.Join(blocker, "data", "seal.key"))
	if err == nil || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("err = %v, want an error naming %s", err, blocker)
	}
}

func TestLoadOrCreateKeyFileReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	_, err := LoadOrCreateKeyFile(filepath.Join(dir, "seal.key"))
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want an error naming %s", err, dir)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// assertOnlyFile checks no temporary file was left behind.
func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want only %s", dir, names, name)
	}
}
