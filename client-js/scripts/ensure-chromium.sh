#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser test. Playwright
# drives it through playwright-core; no browser is downloaded by npm.
set -euo pipefail
if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
	exit 0
fi
echo "installing chromium with apt-get"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium >/dev/null
echo "chromium installed"
