package wire_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hotstate/hotstate/core/wire"
)

type protoField struct {
	P int `json:"__proto__"`
}

type jsonProto struct{}

func (jsonProto) MarshalJSON() ([]byte, error) { return []byte(`{"a":{"__proto__":1}}`), nil }

// TestReservedKeyRefused checks that no frame can carry a key JavaScript
// clients cannot hold, whichever way the value is built.
func TestReservedKeyRefused(t *testing.T) {
	for name, v := range map[string]any{
		"generic map":     map[string]any{"users": map[string]any{"__proto__": "x"}},
		"typed map":       map[string]int{"__proto__": 1},
		"struct tag":      protoField{},
		"MarshalJSON":     jsonProto{},
		"raw JSON":        json.RawMessage(`{"__proto__":{}}`),
		"nested in slice": []map[string]bool{{"ok": true}, {"__proto__": true}},
	} {
		if _, err := wire.EncodeSnap("S", 1, 0, v); !errors.Is(err, wire.ErrReservedKey) {
			t.Errorf("%s: EncodeSnap error %v, want ErrReservedKey", name, err)
		}
	}
	for _, p := range []string{"/__proto__", "/users/__proto__", "/__proto__/x"} {
		if _, err := wire.EncodePatch("S", 1, 1, []wire.Op{{Op: wire.OpRemove, Path: p}}); !errors.Is(err, wire.ErrReservedKey) {
			t.Errorf("path %q: error %v, want ErrReservedKey", p, err)
		}
	}
	for _, p := range []string{"/constructor", "/prototype/x", "/__proto__x", "/a__proto__", "/~0__proto__"} {
		if _, err := wire.EncodePatch("S", 1, 1, []wire.Op{{Op: wire.OpReplace, Path: p, Value: map[string]any{"constructor": 1, "prototype": 2}}}); err != nil {
			t.Errorf("path %q: %v", p, err)
		}
	}
	// The differ's paths for a new key go through the same check.
	ops, err := wire.Diff(map[string]int{}, map[string]int{"__proto__": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wire.EncodePatch("S", 1, 1, ops); !errors.Is(err, wire.ErrReservedKey) {
		t.Fatalf("patch of a new reserved key: %v", err)
	}
}
