package suite

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// JSResult is the JS client's patch throughput in Node, or why it was not
// measured.
type JSResult struct {
	Measured     bool    `json:"measured"`
	OpsPerSecond float64 `json:"opsPerSecond,omitempty"`
	Module       string  `json:"module,omitempty"`
	Note         string  `json:"note,omitempty"`
}

//go:embed patchbench.mjs
var patchBenchJS []byte

// runJS measures client-js's patch application in Node when client-js has
// been built (client-js/dist exists).
func runJS(ctx context.Context, root string, pinned bool) JSResult {
	if root == "" {
		return JSResult{Note: "the repository root (go.work) was not found from the working directory"}
	}
	dist := filepath.Join(root, "client-js", "dist")
	if _, err := os.Stat(dist); err != nil {
		return JSResult{Note: "client-js/dist does not exist: the JS client is not built in this checkout (npm run build in client-js)"}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return JSResult{Note: "node is not installed"}
	}
	script := filepath.Join(os.TempDir(), "hotbench-patchbench.mjs")
	if err := os.WriteFile(script, patchBenchJS, 0o644); err != nil {
		return JSResult{Note: err.Error()}
	}
	defer os.Remove(script)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	argv := []string{node, script, dist}
	if pinned {
		argv = append([]string{"taskset", "-c", "1"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return JSResult{Note: "node failed: " + err.Error() + ": " + errb.String()}
	}
	var r JSResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return JSResult{Note: "node printed no result: " + err.Error()}
	}
	return r
}
