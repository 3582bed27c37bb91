module github.com/hotstate/hotstate/adapters/internal/wsframe

go 1.26
