module github.com/hotstate/hotstate/adapters/echo

go 1.26

require (
	github.com/coder/websocket v1.8.15
	github.com/hotstate/hotstate/adapters/nethttp v0.1.0
	github.com/hotstate/hotstate/core v0.1.0
	github.com/hotstate/hotstate/core/hotstatetest v0.1.0
	github.com/labstack/echo/v4 v4.16.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/hotstate/hotstate/adapters/internal/evconn v0.1.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/wsframe v0.1.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/crypto v0.53.0 // indirect
	golang.org/x/net v0.56.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/hotstate/hotstate/adapters/internal/evconn => ../internal/evconn
	github.com/hotstate/hotstate/adapters/internal/wsframe => ../internal/wsframe
	github.com/hotstate/hotstate/adapters/nethttp => ../nethttp
	github.com/hotstate/hotstate/core => ../../core
	github.com/hotstate/hotstate/core/hotstatetest => ../../core/hotstatetest
)
