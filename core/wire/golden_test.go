package wire_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotstate/hotstate/core/wire"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

var update = flag.Bool("update", false, "rewrite the golden protocol vectors")

// goldenDir holds the vectors every implementation of PROTOCOL.md loads.
const goldenDir = "../testdata/protocol"

type todo struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
	Note string `json:"note,omitempty"`
}

type todoList struct {
	Items []todo `json:"items"`
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// goldenFrames are the vectors, by file name. Floats are left out: a
// whole-number float64 reads back as an integer in JavaScript.
func goldenFrames() map[string][]byte {
	const epoch = 0x9e3779b97f4a7c15
	return map[string][]byte{
		"hello":         wire.EncodeHello("k3J9xQ2mPa0w"),
		"sub":           wire.EncodeSub("Todos"),
		"sub-resume":    wire.EncodeResume("Room:general", epoch, 12),
		"unsub":         wire.EncodeUnsub("Room:general"),
		"rpc":           must(wire.EncodeRPC(1, "todos.add", map[string]any{"text": "Buy milk"})),
		"rpc-no-args":   must(wire.EncodeRPC(70000, "ping", nil)),
		"snap":          must(wire.EncodeSnap("Todos", epoch, 0, todoList{Items: []todo{{ID: 1, Text: "Buy milk"}}})),
		"snap-empty":    must(wire.EncodeSnap("Config", 7, 3, map[string]any{})),
		"patch-replace": must(wire.EncodePatch("Todos", epoch, 12, []wire.Op{{Op: wire.OpReplace, Path: "/items/3/done", Value: true}})),
		"patch-ops": must(wire.EncodePatch("Room:general", 1, 300, []wire.Op{
			{Op: wire.OpAdd, Path: "/messages/-", Value: map[string]any{"from": "k3J9", "text": "héllo ✓", "ts": int64(1763900000000)}},
			{Op: wire.OpRemove, Path: "/users/0"},
			{Op: wire.OpReplace, Path: "/a~1b/m~0n", Value: []any{int64(-1), int64(-200), int64(40000), nil, false}},
			{Op: wire.OpReplace, Path: "", Value: map[string]any{"name": "general"}},
		})),
		"res":       must(wire.EncodeResult(1, map[string]any{"id": 1})),
		"res-nil":   must(wire.EncodeResult(2, nil)),
		"res-error": wire.EncodeFailure(3, wire.Error{Code: wire.CodeError, Message: "text is required"}),
		"del":       wire.EncodeDel("Room:general"),
		"evt":       must(wire.EncodeEvent("user.joined", map[string]any{"id": "k3J9xQ2mPa0w"})),
		"evt-store": must(wire.EncodeStoreEvent("Room:general", "typing", map[string]any{"from": "k3J9", "on": true})),
		"err":       wire.EncodeErr("", wire.Error{Code: wire.CodeBadFrame, Message: "not MessagePack"}),
		"err-store": wire.EncodeErr("Missing", wire.Error{Code: wire.CodeNotFound, Message: `store "Missing" not found`}),
	}
}

func TestGoldenVectors(t *testing.T) {
	for name, frame := range goldenFrames() {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(goldenDir, name+".msgpack")
			js := filepath.Join(goldenDir, name+".json")
			text, err := orderedJSON(frame)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(bin, frame, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(js, text, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantBin, err := os.ReadFile(bin)
			if err != nil {
				t.Fatalf("%v (run go test ./wire -run Golden -update)", err)
			}
			if !bytes.Equal(frame, wantBin) {
				t.Fatalf("encoder wrote % x\nvector holds  % x", frame, wantBin)
			}
			wantJSON, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(text, wantJSON) {
				t.Fatalf("vector decodes to %s, json file holds %s", text, wantJSON)
			}
			if _, err := wire.Decode(wantBin); err != nil {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}

// TestPatchFrameSize checks the figure PROTOCOL.md quotes.
func TestPatchFrameSize(t *testing.T) {
	frame := goldenFrames()["patch-replace"]
	if !strings.Contains(readDoc(t), fmt.Sprintf("is\n%d bytes", len(frame))) && !strings.Contains(readDoc(t), fmt.Sprintf("is %d bytes", len(frame))) {
		t.Fatalf("the single-field patch frame is %d bytes; update PROTOCOL.md", len(frame))
	}
}

func readDoc(t *testing.T) string {
	b, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Skip("docs not present outside the repository")
	}
	return string(b)
}

// orderedJSON renders a MessagePack value as JSON keeping map key order,
// so a JavaScript encoder given the parsed JSON writes the same bytes.
func orderedJSON(b []byte) ([]byte, error) {
	var out bytes.Buffer
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	if err := writeJSON(&out, dec); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func writeJSON(out *bytes.Buffer, dec *msgpack.Decoder) error {
	c, err := dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return err
		}
		out.WriteByte('{')
		for i := range n {
			if i > 0 {
				out.WriteByte(',')
			}
			k, err := dec.DecodeString()
			if err != nil {
				return err
			}
			kj, _ := json.Marshal(k)
			out.Write(kj)
			out.WriteByte(':')
			if err := writeJSON(out, dec); err != nil {
				return err
			}
		}
		out.WriteByte('}')
		return nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		out.WriteByte('[')
		for i := range n {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeJSON(out, dec); err != nil {
				return err
			}
		}
		out.WriteByte(']')
		return nil
	}
	if c == msgpcode.Bin8 {
		// Only epochs are bytes in a frame; JSON shows them as the hex
		// string clients keep them as.
		b, err := dec.DecodeBytes()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%q", hex.EncodeToString(b))
		return nil
	}
	v, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	out.Write(j)
	return nil
}
