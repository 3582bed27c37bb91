module github.com/hotstate/hotstate/examples

go 1.26.0

require (
	github.com/gin-gonic/gin v1.12.0
	github.com/gofiber/fiber/v2 v2.52.15
	github.com/gofiber/fiber/v3 v3.1.0
	github.com/hotstate/hotstate/adapters/echo v0.1.0
	github.com/hotstate/hotstate/adapters/echo/v5 v5.1.0
	github.com/hotstate/hotstate/adapters/fiber v0.1.0
	github.com/hotstate/hotstate/adapters/fiber/v3 v3.1.0
	github.com/hotstate/hotstate/adapters/gin v0.1.0
	github.com/hotstate/hotstate/adapters/nethttp v0.1.0
	github.com/hotstate/hotstate/client-go v0.1.0
	github.com/hotstate/hotstate/core v0.1.0
	github.com/hotstate/hotstate/core/hotstatetest v0.1.0
	github.com/hotstate/hotstate/engines/nats v0.1.0
	github.com/hotstate/hotstate/engines/redis v0.1.0
	github.com/hotstate/hotstate/inspector v0.1.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/labstack/echo/v4 v4.16.0
	github.com/labstack/echo/v5 v5.4.4
	go.uber.org/goleak v1.3.0
)

require (
	github.com/andybalholm/brotli v1.2.0 // indirect
	github.com/bytedance/gopkg v0.1.3 // indirect
	github.com/bytedance/sonic v1.15.0 // indirect
	github.com/bytedance/sonic/loader v0.5.0 // indirect
	github.com/cloudwego/base64x v0.1.6 // indirect
	github.com/fasthttp/websocket v1.5.12 // indirect
	github.com/gabriel-vasile/mimetype v1.4.12 // indirect
	github.com/gin-contrib/sse v1.1.0 // indirect
	github.com/go-playground/locales v0.14.1 // indirect
	github.com/go-playground/universal-translator v0.18.1 // indirect
	github.com/go-playground/validator/v10 v10.30.1 // indirect
	github.com/goccy/go-json v0.10.5 // indirect
	github.com/goccy/go-yaml v1.19.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/klauspost/cpuid/v2 v2.4.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/leodido/go-urn v1.4.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/mattn/go-runewidth v0.0.16 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/pelletier/go-toml/v2 v2.2.4 // indirect
	github.com/quic-go/qpack v0.6.0 // indirect
	github.com/quic-go/quic-go v0.59.0 // indirect
	github.com/rivo/uniseg v0.2.0 // indirect
	github.com/savsgio/gotils v0.0.0-20240704082632-aef3928b8a38 // indirect
	github.com/twitchyliquid64/golang-asm v0.15.1 // indirect
	github.com/ugorji/go/codec v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasthttp v1.69.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	go.mongodb.org/mongo-driver/v2 v2.5.0 // indirect
	golang.org/x/arch v0.22.0 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.15.0 // indirect
	google.golang.org/protobuf v1.36.10 // indirect
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coder/websocket v1.8.15 // indirect
	github.com/gofiber/schema v1.7.0 // indirect
	github.com/gofiber/utils/v2 v2.0.2 // indirect
	github.com/hotstate/hotstate/adapters/internal/evconn v0.1.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/fastws v0.1.0 // indirect
	github.com/hotstate/hotstate/adapters/internal/wsframe v0.1.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/tinylib/msgp v1.6.3 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
)

replace (
	github.com/hotstate/hotstate/adapters/echo => ../adapters/echo
	github.com/hotstate/hotstate/adapters/echo/v5 => ../adapters/echo/v5
	github.com/hotstate/hotstate/adapters/fiber => ../adapters/fiber
	github.com/hotstate/hotstate/adapters/fiber/v3 => ../adapters/fiber/v3
	github.com/hotstate/hotstate/adapters/gin => ../adapters/gin
	github.com/hotstate/hotstate/adapters/internal/evconn => ../adapters/internal/evconn
	github.com/hotstate/hotstate/adapters/internal/fastws => ../adapters/internal/fastws
	github.com/hotstate/hotstate/adapters/internal/wsframe => ../adapters/internal/wsframe
	github.com/hotstate/hotstate/adapters/nethttp => ../adapters/nethttp
	github.com/hotstate/hotstate/client-go => ../client-go
	github.com/hotstate/hotstate/core => ../core
	github.com/hotstate/hotstate/core/hotstatetest => ../core/hotstatetest
	github.com/hotstate/hotstate/engines/nats => ../engines/nats
	github.com/hotstate/hotstate/engines/redis => ../engines/redis
	github.com/hotstate/hotstate/inspector => ../inspector
)
