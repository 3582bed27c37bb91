package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/hotstate/hotstate/core/tsgen"
)

// TestSchemaFresh fails when web/schema.ts is not what the server's types
// generate: a store, function or event changed without `go generate`.
func TestSchemaFresh(t *testing.T) {
	want, _, err := tsgen.Generate(typesServer().Schema(), typesOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("web/schema.ts")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("web/schema.ts is stale: run `go generate ./examples/todo` (or `go run ./examples/todo -gen-ts examples/todo/web/schema.ts`)\n--- generated:\n%s", want)
	}
}
