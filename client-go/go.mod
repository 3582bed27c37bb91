module github.com/hotstate/hotstate/client-go

go 1.26

require (
	github.com/coder/websocket v1.8.15
	github.com/hotstate/hotstate/adapters/nethttp v0.1.0
	github.com/hotstate/hotstate/core v0.1.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/hotstate/hotstate/adapters/internal/evconn v0.1.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/wsframe v0.1.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)

replace (
	github.com/hotstate/hotstate/adapters/internal/evconn => ../adapters/internal/evconn
	github.com/hotstate/hotstate/adapters/internal/wsframe => ../adapters/internal/wsframe
	github.com/hotstate/hotstate/adapters/nethttp => ../adapters/nethttp
	github.com/hotstate/hotstate/core => ../core
	github.com/hotstate/hotstate/core/hotstatetest => ../core/hotstatetest
)
