package hotredis

import (
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Dial returns an engine on the Redis server url names
// (redis://[user:password@]host:port[/db], or rediss:// for TLS; see
// redis.ParseURL for the options a URL may carry). The engine owns the
// connection: Close closes it too. Use New with a redis.UniversalClient of
// your own for Sentinel or Cluster.
func Dial(url string, opts ...Option) (*Engine, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("hotstate: redis: %w", err)
	}
	rdb := redis.NewClient(o)
	e := New(rdb, opts...)
	e.disconnect = rdb.Close
	return e, nil
}
