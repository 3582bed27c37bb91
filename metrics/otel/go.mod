module github.com/hotstate/hotstate/metrics/otel

go 1.26.0

require (
	github.com/hotstate/hotstate/adapters/nethttp v0.1.0
	github.com/hotstate/hotstate/client-go v0.1.0
	github.com/hotstate/hotstate/core v0.1.0
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/metric v1.47.0
	go.opentelemetry.io/otel/sdk/metric v1.47.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coder/websocket v1.8.15 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/evconn v0.1.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/wsframe v0.1.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/sdk v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace (
	github.com/hotstate/hotstate/adapters/internal/evconn => ../../adapters/internal/evconn
	github.com/hotstate/hotstate/adapters/internal/wsframe => ../../adapters/internal/wsframe
	github.com/hotstate/hotstate/adapters/nethttp => ../../adapters/nethttp
	github.com/hotstate/hotstate/client-go => ../../client-go
	github.com/hotstate/hotstate/core => ../../core
	github.com/hotstate/hotstate/core/hotstatetest => ../../core/hotstatetest
)
