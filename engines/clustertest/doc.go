// Package clustertest holds the multi-process tests of hotstate's shared
// engines: several server processes (the node command in this module) on
// one private Redis or NATS server, with Go clients spread over them, and
// the faults a cluster meets (a node killed, a node frozen, the engine
// restarted). It has no API; go test runs it.
package clustertest
