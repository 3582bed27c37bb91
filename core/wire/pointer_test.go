package wire_test

import (
	"testing"

	"github.com/hotstate/hotstate/core/wire"
)

func TestAppendPointerToken(t *testing.T) {
	cases := map[string]string{
		"":        "/",
		"items":   "/items",
		"a/b":     "/a~1b",
		"~":       "/~0",
		"~1":      "/~01",
		"/~/":     "/~1~0~1",
		"ünïcode": "/ünïcode",
	}
	for tok, want := range cases {
		if got := string(wire.AppendPointerToken([]byte("/x"), tok)); got != "/x"+want {
			t.Errorf("%q: got %q, want %q", tok, got, "/x"+want)
		}
	}
}

// Every escaped token reads back as itself through Apply.
func TestPointerTokensRoundTrip(t *testing.T) {
	for _, tok := range []string{"", "a", "~", "/", "~0", "~1", "a~b/c", "0", "-"} {
		path := string(wire.AppendPointerToken(nil, tok))
		got, err := wire.Apply(map[string]any{}, []wire.Op{{Op: wire.OpAdd, Path: path, Value: true}})
		if err != nil {
			t.Fatalf("%q: %v", tok, err)
		}
		if m := got.(map[string]any); len(m) != 1 || m[tok] != true {
			t.Fatalf("%q: got %v", tok, m)
		}
	}
}
