package hotinspect_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestBundleFresh fails when web/main.ts changed after page/app.js was
// built from it: run `node scripts/build-inspector.mjs` in client-js. (The
// client's own tests rebuild the bundle and compare it byte for byte,
// which also catches a change of the hotstate client it bundles.)
func TestBundleFresh(t *testing.T) {
	src, err := os.ReadFile("web/main.ts")
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := os.ReadFile("page/app.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	first, _, _ := strings.Cut(string(bundle), "\n")
	if !strings.Contains(first, "sha256 "+hex.EncodeToString(sum[:])) {
		t.Fatalf("page/app.js was built from another web/main.ts: run `node scripts/build-inspector.mjs` in client-js\nits first line: %s", first)
	}
}
