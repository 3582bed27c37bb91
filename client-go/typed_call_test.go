package hotclient_test

import (
	"errors"
	"testing"

	hotclient "github.com/hotstate/hotstate/client-go"
)

func TestCallAs(t *testing.T) {
	a := newApp(t, "127.0.0.1:0")
	c := dial(t, a.url())
	ctx := ctxT(t)

	added, err := hotclient.CallAs[Todo](ctx, c, "todos.add", struct {
		Text string `json:"text"`
	}{"Buy milk"})
	if err != nil || added != (Todo{ID: 1, Text: "Buy milk"}) {
		t.Fatalf("CallAs = %+v, %v", added, err)
	}

	var re *hotclient.RemoteError
	got, err := hotclient.CallAs[Todo](ctx, c, "fail", nil)
	if !errors.As(err, &re) || re.Code != "error" || got != (Todo{}) {
		t.Fatalf("handler error: %+v, %v", got, err)
	}
	// A result that does not fit R is an error, and R stays zero.
	n, err := hotclient.CallAs[int](ctx, c, "todos.add", map[string]string{"text": "x"})
	if err == nil || n != 0 {
		t.Fatalf("mismatched result: %d, %v", n, err)
	}
}
