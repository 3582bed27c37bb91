module github.com/hotstate/hotstate/adapters/fiber

go 1.26

require (
	github.com/coder/websocket v1.8.15
	github.com/gofiber/fiber/v2 v2.52.15
	github.com/hotstate/hotstate/adapters/internal/evconn v0.1.0
	github.com/hotstate/hotstate/adapters/internal/fastws v0.1.0
	github.com/hotstate/hotstate/core v0.1.0
	github.com/hotstate/hotstate/core/hotstatetest v0.1.0
)

require (
	github.com/andybalholm/brotli v1.2.0 // indirect
	github.com/fasthttp/websocket v1.5.12 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/wsframe v0.1.0 // indirect
	github.com/klauspost/compress v1.18.2 // indirect
	github.com/mattn/go-colorable v0.1.13 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/mattn/go-runewidth v0.0.16 // indirect
	github.com/rivo/uniseg v0.2.0 // indirect
	github.com/savsgio/gotils v0.0.0-20240704082632-aef3928b8a38 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasthttp v1.69.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/net v0.48.0 // indirect
	golang.org/x/sys v0.39.0 // indirect
)

replace (
	github.com/hotstate/hotstate/adapters/internal/evconn => ../internal/evconn
	github.com/hotstate/hotstate/adapters/internal/fastws => ../internal/fastws
	github.com/hotstate/hotstate/adapters/internal/wsframe => ../internal/wsframe
	github.com/hotstate/hotstate/core => ../../core
	github.com/hotstate/hotstate/core/hotstatetest => ../../core/hotstatetest
)
