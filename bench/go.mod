module github.com/hotstate/hotstate/bench

go 1.26

require (
	github.com/hotstate/hotstate/core v0.0.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
	github.com/wI2L/jsondiff v0.7.1
)

require (
	github.com/hotstate/hotstate/adapters/nethttp v0.0.0
	github.com/stretchr/testify v1.12.1 // indirect
	github.com/tidwall/gjson v1.18.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/goleak v1.3.0
)

replace github.com/hotstate/hotstate/core => ../core

replace github.com/hotstate/hotstate/adapters/nethttp => ../adapters/nethttp
