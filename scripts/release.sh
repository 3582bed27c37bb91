#!/usr/bin/env bash
# Releases every Go module of go.work at one hotstate version:
#
#	scripts/release.sh [-n] v0.MINOR.PATCH
#
# It makes each module require its siblings at that version, checks that
# every module still builds alone and that a module outside the repository
# builds and tests against the tree (scripts/consumer-check.sh), commits
# the requirements, and tags each module: core/v0.2.0,
# adapters/gin/v0.2.0, ... A module whose path ends in its framework's
# major version carries that major instead: adapters/echo/v5.2.0 for
# github.com/hotstate/hotstate/adapters/echo/v5 at v5.2.0 (see
# scripts/hotmod.go). Nothing is pushed; it prints the command that
# publishes the release. -n stops before the commit and puts the go.mod
# files back.
set -euo pipefail
cd "$(dirname "$0")/.."

dry=
if [ "${1:-}" = -n ]; then
	dry=1
	shift
fi
version=${1:?usage: scripts/release.sh [-n] v0.MINOR.PATCH}
hotmod() { go run scripts/hotmod.go "$@"; }
die() {
	echo "release: $*" >&2
	exit 1
}

[ -z "$(git status --porcelain)" ] || die "the tree has uncommitted changes"
list=$(hotmod list "$version")
tags=$(cut -f3 <<<"$list")
for tag in $tags; do
	! git rev-parse -q --verify "refs/tags/$tag" >/dev/null || die "tag $tag exists"
done

hotmod require "$version"
for dir in $(cut -f4 <<<"$list"); do
	echo "== GOWORK=off go build: $dir"
	(cd "$dir" && GOWORK=off go build ./... && GOWORK=off go mod tidy -diff >/dev/null) ||
		die "$dir does not build alone, or its go.mod is not tidy, at $version"
done
echo "== scripts/consumer-check.sh"
./scripts/consumer-check.sh

if [ -n "$dry" ]; then
	git diff --stat
	git checkout -- $(git ls-files '*go.mod')
	printf 'would tag:\n%s\n' "$tags"
	exit 0
fi

if ! git diff --quiet; then
	git commit -q -am "Release $version"
fi
for tag in $tags; do
	git tag -a "$tag" -m "hotstate $version"
done
printf 'tagged %s as:\n%s\n\npublish with:\n\tgit push origin HEAD %s\n' \
	"$(git rev-parse --short HEAD)" "$tags" "$(echo $tags)"
