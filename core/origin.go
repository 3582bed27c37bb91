package hotstate

import (
	"net/url"
	"path"
	"strings"
)

// OriginAllowed reports whether a WebSocket handshake carrying the Origin
// header origin may proceed for a request addressed to host. Every transport
// calls it before upgrading, which is the defence against cross-site
// WebSocket hijacking: a page on another site cannot open a connection that
// rides on the user's cookies.
//
// A request without Origin (a non-browser client) is allowed; so is one
// whose Origin host equals host. Otherwise origin must match one of
// patterns, path.Match globs compared without case against the origin's
// host ("*.example.com") or, when the pattern contains "://", against
// scheme://host ("https://app.example.com"). The pattern "*" allows any
// origin.
func OriginAllowed(origin, host string, patterns []string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}
