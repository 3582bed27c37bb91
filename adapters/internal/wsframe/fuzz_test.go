package wsframe_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hotstate/hotstate/adapters/internal/wsframe"
)

// FuzzReader feeds arbitrary bytes cut into arbitrary chunks, and checks
// that the Reader never panics, never holds much more than its limit, and
// makes of the chunks exactly what it makes of the bytes at once: the same
// events, then the same error or none.
func FuzzReader(f *testing.F) {
	for _, c := range autobahnCases() {
		// Big inputs would slow the fuzzer down; the small ones have
		// every kind of frame.
		if b := bytes.Join(c.parts, nil); len(b) <= 4<<10 {
			f.Add(b, []byte{3, 0, 200, 1})
		}
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		limit := 200 // small, so that fuzzed lengths reach it
		if len(cuts) > 0 {
			limit += int(cuts[0]) * 8
		}
		whole := wsframe.NewReader(limit)
		wantEvents, wantErr, _ := read(t, whole, [][]byte{data})

		var chunks [][]byte
		for i, rest := 0, data; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, int(cuts[i%len(cuts)])+1)
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		r := wsframe.NewReader(limit)
		var events []event
		var err error
		for _, c := range chunks {
			var got []event
			got, err, _ = read(t, r, [][]byte{c})
			events = append(events, got...)
			if err != nil {
				break
			}
			if held := r.Buffered(); held > max(512, 2*(limit+125)) {
				t.Fatalf("the reader holds %d bytes with a limit of %d", held, limit)
			}
		}
		if !equalEvents(events, wantEvents) {
			t.Fatalf("in chunks: events\n\t%v\nat once:\n\t%v", events, wantEvents)
		}
		if code(err) != code(wantErr) {
			t.Fatalf("in chunks: error %v; at once: %v", err, wantErr)
		}
	})
}

// code returns the close code of a Reader's error, 0 for none.
func code(err error) int {
	var werr *wsframe.Error
	if errors.As(err, &werr) {
		return werr.Code
	}
	if err != nil {
		return -1
	}
	return 0
}
