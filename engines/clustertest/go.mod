module github.com/hotstate/hotstate/engines/clustertest

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	github.com/hotstate/hotstate/adapters/nethttp v0.1.0
	github.com/hotstate/hotstate/client-go v0.1.0
	github.com/hotstate/hotstate/core v0.1.0
	github.com/hotstate/hotstate/engines/nats v0.1.0
	github.com/hotstate/hotstate/engines/redis v0.1.0
	github.com/hotstate/hotstate/inspector v0.1.0
	github.com/nats-io/nats-server/v2 v2.15.2
	github.com/nats-io/nats.go v1.55.0
)

require (
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/hotstate/hotstate/adapters/internal/evconn v0.1.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/wsframe v0.1.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace (
	github.com/hotstate/hotstate/adapters/internal/evconn => ../../adapters/internal/evconn
	github.com/hotstate/hotstate/adapters/internal/wsframe => ../../adapters/internal/wsframe
	github.com/hotstate/hotstate/adapters/nethttp => ../../adapters/nethttp
	github.com/hotstate/hotstate/client-go => ../../client-go
	github.com/hotstate/hotstate/core => ../../core
	github.com/hotstate/hotstate/core/hotstatetest => ../../core/hotstatetest
	github.com/hotstate/hotstate/engines/nats => ../nats
	github.com/hotstate/hotstate/engines/redis => ../redis
	github.com/hotstate/hotstate/inspector => ../../inspector
)
