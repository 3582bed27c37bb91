package evconn

import (
	"crypto/sha1"
	"encoding/base64"
)

// AcceptKey is the Sec-WebSocket-Accept of a handshake whose
// Sec-WebSocket-Key is key (RFC 6455 section 4.2.2).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// ValidKey reports whether key, a Sec-WebSocket-Key, is the base64 of 16
// bytes, as RFC 6455 section 4.2.1 asks.
func ValidKey(key string) bool {
	k, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(k) == 16
}
