module github.com/hotstate/hotstate/metrics/prometheus

go 1.26.0

require (
	github.com/hotstate/hotstate/adapters/nethttp v0.1.0
	github.com/hotstate/hotstate/client-go v0.1.0
	github.com/hotstate/hotstate/core v0.1.0
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/client_model v0.6.3
	github.com/prometheus/common v0.72.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coder/websocket v1.8.15 // indirect
	github.com/hotstate/hotstate/adapters/internal/evconn v0.1.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/wsframe v0.1.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/hotstate/hotstate/adapters/internal/evconn => ../../adapters/internal/evconn
	github.com/hotstate/hotstate/adapters/internal/wsframe => ../../adapters/internal/wsframe
	github.com/hotstate/hotstate/adapters/nethttp => ../../adapters/nethttp
	github.com/hotstate/hotstate/client-go => ../../client-go
	github.com/hotstate/hotstate/core => ../../core
	github.com/hotstate/hotstate/core/hotstatetest => ../../core/hotstatetest
)
