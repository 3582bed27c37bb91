// Command hotbench benchmarks hotstate against a raw WebSocket server and
// against centrifuge on this machine, side by side, and prints ratios.
//
//	go run ./bench/cmd/hotbench                  # the full suite
//	go run ./bench/cmd/hotbench -quick           # CI smoke run, under two minutes
//	go run ./bench/cmd/hotbench -json out.json   # also write every figure
//	go run ./bench/cmd/hotbench -cluster redis,nats -cluster-only
//	                                             # three nodes on a private engine against centrifuge with Redis
//	go run ./bench/cmd/hotbench -idle 100000 -json idle.json
//	                                             # only 100 000 idle subscribed connections, then a server restart;
//	                                             # needs an open file limit above 100 000 per process (see BENCHMARKS)
//
// docs/BENCHMARKS.md describes the method and holds the latest full run.
package main

import (
	"os"

	"github.com/hotstate/hotstate/bench/internal/suite"
)

func main() {
	os.Exit(suite.Main(os.Args[1:], os.Stdout, os.Stderr))
}
