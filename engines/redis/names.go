package hotredis

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Names implements hotstate.Engine by scanning for the position keys
// ({P:N}:m) of the names starting with prefix; an instance exists while its
// position does. On a Cluster it scans every master.
func (e *Engine) Names(ctx context.Context, prefix string) ([]string, error) {
	if err := e.online("names", prefix); err != nil {
		return nil, err
	}
	head := "{" + e.prefix + ":"
	pattern := globEscape(head+prefix) + "*}:m"
	var mu sync.Mutex
	var names []string
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			if strings.HasPrefix(k, head) && strings.HasSuffix(k, "}:m") {
				mu.Lock()
				names = append(names, k[len(head):len(k)-len("}:m")])
				mu.Unlock()
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, e.rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("hotstate: redis: names %q: %w", prefix, e.down(ctx, err))
	}
	return names, nil
}

// globEscape quotes the characters SCAN's MATCH pattern gives a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
