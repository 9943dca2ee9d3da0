package httpjson

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, 201, map[string]string{"a": "<b>"})
	if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["a"] != "<b>" {
		t.Errorf("body %q: %v", rec.Body.String(), err)
	}
}

func TestWriteAs(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteAs(rec, 400, "application/problem+json", struct{ Title string }{"x"})
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
}
