package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hotstate/hotstate/core/wire"
	"github.com/vmihailenco/msgpack/v5"
)

func TestCheckRefusesLies(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":            {},
		"array32 of 1<<26": {0xdd, 0x04, 0x00, 0x00, 0x00},
		"map32 huge":       {0xdf, 0xff, 0xff, 0xff, 0xff},
		"str32 huge":       {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'},
		"bin16 short":      {0xc5, 0x00, 0x10, 1, 2},
		"ext32 huge":       {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},
		"truncated uint64": {0xcf, 0, 0},
		"reserved 0xc1":    {0xc1},
		"trailing":         {0x01, 0x02},
		"too deep":         bytes.Repeat([]byte{0x91}, wire.MaxDepth+1),
	} {
		if err := wire.Check(b); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: Check = %v, want ErrMalformed", name, err)
		}
		if _, err := wire.Decode(b); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: Decode = %v, want ErrMalformed", name, err)
		}
	}
	ok := append(bytes.Repeat([]byte{0x91}, wire.MaxDepth), 0xc0)
	if err := wire.Check(ok); err != nil {
		t.Fatalf("nesting at the limit refused: %v", err)
	}
}

func TestDecodeFrameFields(t *testing.T) {
	f, err := wire.Decode(wire.EncodeResume("Room:a", 9, 4))
	if err != nil || f.Type != wire.TypeSub || !f.Resume || f.Epoch != 9 || f.Version != 4 || f.Store != "Room:a" {
		t.Fatalf("resume frame %+v, %v", f, err)
	}
	f, err = wire.Decode(wire.EncodeSub("Room:a"))
	if err != nil || f.Resume {
		t.Fatalf("plain sub decoded as resume: %+v", f)
	}
	// Unknown keys are skipped, so later versions can add some.
	b := []byte{0x82, 0xa1, 't', 0x02, 0xa1, 'z', 0x93, 1, 2, 3}
	if f, err := wire.Decode(b); err != nil || f.Type != wire.TypeUnsub {
		t.Fatalf("unknown key: %+v, %v", f, err)
	}
	// Integers of any width decode to int64 in generic trees.
	v, err := wire.DecodeAny([]byte{0x92, 0xcc, 0x05, 0xd0, 0xfb})
	if err != nil || v.([]any)[0] != int64(5) || v.([]any)[1] != int64(-5) {
		t.Fatalf("ints %#v, %v", v, err)
	}
}

// FuzzDecode feeds arbitrary bytes to the frame decoder: it must never
// panic, and whatever Check accepts as a map with a "t" must decode.
func FuzzDecode(f *testing.F) {
	vectors, _ := filepath.Glob("../testdata/protocol/*.msgpack")
	for _, p := range vectors {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{0xdd, 0x04, 0x00, 0x00, 0x00})
	f.Add([]byte{0x81, 0xa1, 't', 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := wire.Decode(b)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if wire.Check(b) != nil {
			t.Fatal("Decode accepted what Check refuses")
		}
		if fr.Value != nil {
			if _, err := wire.DecodeAny(fr.Value); err != nil && !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("DecodeAny: %v", err)
			}
		}
	})
}

type plainArgs struct {
	Text  string           `json:"text"`
	N     int              `json:"n,omitempty"`
	Tags  []string         `json:"tags"`
	Meta  map[string]int64 `json:"meta"`
	Inner *struct {
		OK bool `json:"ok"`
	} `json:"inner"`
	Skip string `json:"-"`
}

// TestDecodeValueMatchesJSON checks DecodeValue gives what encoding/json
// gives for the same value, refusals included.
func TestDecodeValueMatchesJSON(t *testing.T) {
	for _, in := range []any{
		map[string]any{"text": "a", "n": 3, "tags": []any{"x"}, "meta": map[string]any{"k": 7}, "inner": map[string]any{"ok": true}, "extra": 1},
		map[string]any{"text": "b", "Skip": "no", "-": "no"},
		map[string]any{},
		map[string]any{"n": "not a number"},
		map[string]any{"meta": map[string]any{"k": -1}},
		map[string]any{"meta": map[string]any{"k": "x"}},
		map[string]any{"tags": "not a list"},
		[]any{"x"}, // MessagePack would read an array into a struct; JSON refuses
		"text",
	} {
		raw, err := encodeValue(in)
		if err != nil {
			t.Fatal(err)
		}
		var got, want plainArgs
		gotErr := wire.DecodeValue(raw, &got)
		j, _ := json.Marshal(in)
		wantErr := json.Unmarshal(j, &want)
		if (gotErr == nil) != (wantErr == nil) || (gotErr == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%v: DecodeValue = %+v, %v; encoding/json = %+v, %v", in, got, gotErr, want, wantErr)
		}
	}
}

func encodeValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	err := wire.EncodeValue(enc, v)
	return buf.Bytes(), err
}
