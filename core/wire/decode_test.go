package wire_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotstate/hotstate/core/wire"
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
