package hotclient

import "context"

// CallAs is Call with the result returned as an R, decoded with the rules
// of encoding/json: the server's own result type, so a Go program that
// shares its types with the server needs no result variable and no any.
//
//	res, err := hotclient.CallAs[app.AddResult](ctx, c, "todos.add", app.AddArgs{Text: "Buy milk"})
//
// It returns the zero R with any error Call returns.
func CallAs[R any](ctx context.Context, c *Client, name string, args any, opts ...CallOption) (R, error) {
	var r R
	if err := c.Call(ctx, name, args, &r, opts...); err != nil {
		var zero R
		return zero, err
	}
	return r, nil
}
