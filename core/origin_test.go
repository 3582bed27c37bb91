package hotstate_test

import (
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
)

func TestOriginAllowed(t *testing.T) {
	for _, c := range []struct {
		origin, host string
		patterns     []string
		want         bool
	}{
		{"", "example.com", nil, true},
		{"https://example.com", "example.com", nil, true},
		{"https://EXAMPLE.com", "example.com", nil, true},
		{"https://evil.com", "example.com", nil, false},
		{"https://app.example.com", "example.com", []string{"*.example.com"}, true},
		{"http://app.example.com", "example.com", []string{"https://*.example.com"}, false},
		{"https://app.example.com", "example.com", []string{"https://*.example.com"}, true},
		{"https://evil.com", "example.com", []string{"*"}, true},
		{"null", "example.com", nil, false},
		{"://bad", "example.com", []string{"*"}, false},
	} {
		if got := hotstate.OriginAllowed(c.origin, c.host, c.patterns); got != c.want {
			t.Errorf("OriginAllowed(%q, %q, %q) = %v, want %v", c.origin, c.host, c.patterns, got, c.want)
		}
	}
}
