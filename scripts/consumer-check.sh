#!/usr/bin/env bash
# Proves that hotstate's Go modules install and work outside this
# repository, the way users get them once scripts/release.sh has tagged
# them. It packs the current tree, with every module requiring its siblings
# at a test version (what release.sh does before it tags), into a module
# proxy directory; then a consumer module in a temporary directory, which
# knows nothing of go.work or replace directives, requires core, every
# adapter, the Go client and the conformance suite from that proxy, builds,
# vets, and runs scripts/consumer's tests: each adapter serves a store and
# the Go client sees it change.
#
# Third-party modules come from the local module cache first, then from
# GOPROXY, and are checked against the sums of the repository's go.sum
# files; hotstate's own have no public checksum, hence GONOSUMDB.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
hotmod() { go run "$repo/scripts/hotmod.go" "$@"; }

# Never published: a pre-release of v0.0.0 sorts below every real release.
version=v0.0.0-consumercheck

work=$(mktemp -d)
# The module cache marks what it extracts read-only.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# The tree as a commit of it would hold it: tracked and new files, not the
# ignored ones (node_modules, build output).
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$work/src"
(cd "$work/src" && hotmod require "$version" && hotmod proxy "$version" "$work/proxy")

# The consumer requires what a user's application would; go adds the
# frameworks at the versions the adapters require.
mkdir "$work/consumer"
cp scripts/consumer/*.go "$work/consumer/"
{
	printf 'module example.com/consumer\n\ngo 1.26\n\nrequire (\n'
	(cd "$work/src" && hotmod list "$version") | while IFS=$'\t' read -r path ver _ _; do
		case $path in
		*/core | */core/hotstatetest | */client-go | */adapters/nethttp | */adapters/gin | \
			*/adapters/echo | */adapters/echo/v5 | */adapters/fiber | */adapters/fiber/v3)
			printf '\t%s %s\n' "$path" "$ver" ;;
		esac
	done
	printf ')\n'
} >"$work/consumer/go.mod"
git ls-files -z '*go.sum' | xargs -0 cat | sort -u >"$work/consumer/go.sum"

# A module cache of its own, so that a test version packed from another
# tree is never reused; -trimpath keeps the build cache's entries for its
# packages independent of where it is, so a second run is warm.
cache=$(go env GOMODCACHE)/cache/download upstream=$(go env GOPROXY)
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -trimpath"
export GOMODCACHE=$work/modcache GOPROXY="file://$work/proxy,file://$cache,$upstream"
export GONOSUMDB=github.com/hotstate/hotstate GOPRIVATE= GONOPROXY=
cd "$work/consumer"
# Fetch quietly unless it fails: the go command prints a line per module.
go list -deps -test ./... >/dev/null 2>"$work/fetch.log" || { cat "$work/fetch.log" >&2; exit 1; }
go build ./...
go vet ./...
go test -race -count=1 ./...
