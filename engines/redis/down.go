package hotredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/redis/go-redis/v9"
)

// down marks the errors that mean Redis cannot be reached, or cannot
// answer yet (loading its data after a restart), with
// hotstate.ErrUnavailable, so that callers are told to try again rather
// than shown the failure.
func down(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrClosed),
		strings.HasPrefix(err.Error(), "LOADING"), strings.Contains(err.Error(), "connection pool timeout"):
		return fmt.Errorf("%w: %w", hotstate.ErrUnavailable, err)
	}
	return err
}
