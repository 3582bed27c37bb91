package hotstate

import (
	"context"
	"encoding/binary"
	"fmt"
)

// Events travel through the engine, so that they reach the clients of every
// node sharing it: Emit, EmitTo and a store's Emit publish one message on
// eventsChannel, and every node, this one included, delivers it to the
// clients it holds. The message is the evt frame, encoded once by the
// emitting node, behind a header naming its addressees: a kind byte, then
// for one client or one store instance the length (uvarint) and the name.

const eventsChannel = "hotstate.events"

const (
	toAll    byte = 'a'
	toClient byte = 'c'
	toStore  byte = 's'
)

func relayMessage(kind byte, target string, frame []byte) []byte {
	msg := make([]byte, 0, 1+binary.MaxVarintLen64+len(target)+len(frame))
	msg = append(msg, kind)
	if kind != toAll {
		msg = binary.AppendUvarint(msg, uint64(len(target)))
		msg = append(msg, target...)
	}
	return append(msg, frame...)
}

// publish sends an event frame to its addressees on every node.
func (s *Server) publish(kind byte, target string, frame []byte) error {
	if err := s.opts.engine.Publish(context.Background(), eventsChannel, relayMessage(kind, target, frame)); err != nil {
		return fmt.Errorf("hotstate: event: %w", err)
	}
	return nil
}

// listenEvents starts delivering the events any node publishes.
func (s *Server) listenEvents() {
	s.stopEvents = s.opts.engine.Listen(eventsChannel, s.deliver)
}

// deliver queues an event frame to the addressees this node holds. It runs
// on the engine's goroutine and does not block: queuing never does.
func (s *Server) deliver(msg []byte) {
	if len(msg) == 0 {
		return
	}
	kind, rest := msg[0], msg[1:]
	var target string
	if kind != toAll {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			s.logger().Warn("hotstate: malformed event from the engine")
			return
		}
		target, rest = string(rest[k:k+int(n)]), rest[k+int(n):]
	}
	switch kind {
	case toAll:
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, ss := range s.sessions {
			ss.w.push(rest)
		}
	case toClient:
		s.mu.RLock()
		ss, ok := s.sessions[target]
		s.mu.RUnlock()
		if ok {
			ss.w.push(rest)
		}
	case toStore:
		if def, key, ok := s.resolve(target); ok {
			def.broadcast(key, rest)
		}
	}
}
