#!/usr/bin/env bash
# Runs every check and test of the repository on a fresh machine:
# formatting, vet, the Go tests of every module under -race (in the
# workspace and each module alone), a consumer module that installs them
# from a module proxy built from the tree, then the JS client's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# The engines' tests start private redis-server and nats-server instances.
./scripts/ensure-servers.sh

mods=$(go list -m -f '{{.Dir}}')

# The tree as it was before the tests: anything they change (a go.work.sum
# line, a golden file, a lockfile) fails the run at the end.
tree_before=$(git status --porcelain 2>/dev/null || true)

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$bad" ]; then
	echo "gofmt would change:"; echo "$bad"; exit 1
fi

for dir in $mods; do
	rel=${dir#"$PWD"/}
	step "go vet + go test -race: $rel"
	(cd "$dir" && go vet ./... && go test -race -count=1 -timeout 10m ./...)
done

for dir in $mods; do
	rel=${dir#"$PWD"/}
	step "GOWORK=off go build + vet: $rel"
	(cd "$dir" && GOWORK=off go build ./... && GOWORK=off go vet ./...)
done

step "a module outside the repository installs and uses every module (scripts/consumer-check.sh)"
./scripts/consumer-check.sh

if [ -f client-js/package.json ]; then
	step "client-js"
	(cd client-js && npm ci --no-audit --no-fund && npm test)
fi

step "benchmarks: quick smoke run (ratios are reported, never asserted)"
go run ./bench/cmd/hotbench -quick

step "the tests left the tree as they found it"
tree_after=$(git status --porcelain 2>/dev/null || true)
if [ "$tree_before" != "$tree_after" ]; then
	echo "the tests changed the tree; commit or ignore what they write:"
	diff <(echo "$tree_before") <(echo "$tree_after") || true
	exit 1
fi

step "all tests passed"
