package hotstate

import (
	"maps"
	"slices"
	"strings"

	"github.com/hotstate/hotstate/core/wire"
)

// What this file offers is for tools that look at a running server (an
// inspector, an admin page, a debugging endpoint): each call takes the locks
// it reads under one at a time, briefly, and costs the hot paths nothing
// while nobody calls it.

// SessionInfo describes a connection this node serves.
type SessionInfo struct {
	// ClientID is the id the server assigned to the client.
	ClientID string
	// RemoteAddr is the address the transport saw the request come from.
	RemoteAddr string
	// Identity is what the transport's identity hook returned, or nil.
	Identity any
	// Subscriptions are the full names of the store instances it holds,
	// sorted.
	Subscriptions []string
	// QueueBytes is what waits in its outbound queue.
	QueueBytes int
	// FramesIn counts the frames read from it, FramesOut the frames queued
	// or written to it.
	FramesIn, FramesOut uint64
}

// Sessions describes the connections this node serves, sorted by client id.
func (s *Server) Sessions() []SessionInfo {
	s.mu.RLock()
	list := slices.Collect(maps.Values(s.sessions))
	s.mu.RUnlock()
	infos := make([]SessionInfo, 0, len(list))
	for _, ss := range list {
		info := SessionInfo{
			ClientID:   ss.caller.ID,
			RemoteAddr: ss.caller.RemoteAddr,
			Identity:   ss.caller.Identity,
			FramesIn:   ss.received.Load(),
		}
		ss.mu.Lock()
		info.Subscriptions = slices.Sorted(maps.Keys(ss.subs))
		ss.mu.Unlock()
		ss.w.mu.Lock()
		info.QueueBytes, info.FramesOut = ss.w.size, ss.w.sent
		ss.w.mu.Unlock()
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int { return strings.Compare(a.ClientID, b.ClientID) })
	return infos
}

// Disconnect closes the connection of the client with the given id, after
// what is queued to it, with 1008 (policy violation), and reports whether
// this node served it. The client may connect again.
func (s *Server) Disconnect(clientID string) bool {
	s.mu.RLock()
	ss, ok := s.sessions[clientID]
	s.mu.RUnlock()
	if ok {
		ss.w.close(wire.ClosePolicyViolation, "disconnected by the server", false)
	}
	return ok
}

// InstanceStats describes a store instance as this node holds it.
type InstanceStats struct {
	// Name is the full name ("Room:general"), Store its store's pattern
	// ("Room:*").
	Name, Store string
	// Epoch and Version are the instance's position.
	Epoch, Version uint64
	// Subscribers counts this node's connections subscribed to it.
	Subscribers int
	// Bytes is the size of its snapshot frame, encoded once for everyone
	// who subscribes at this version.
	Bytes int
}

// Instances describes the store instances that exist on this node, sorted
// by name. Other nodes sharing the engine may hold others (ListStores names
// them all).
func (s *Server) Instances() []InstanceStats {
	s.mu.RLock()
	defs := slices.Collect(maps.Values(s.statics))
	defs = append(defs, s.families...)
	s.mu.RUnlock()
	var stats []InstanceStats
	for _, d := range defs {
		stats = append(stats, d.stats()...)
	}
	slices.SortFunc(stats, func(a, b InstanceStats) int { return strings.Compare(a.Name, b.Name) })
	return stats
}

func (f *family[T]) stats() []InstanceStats {
	f.mu.Lock()
	list := slices.Collect(maps.Values(f.instances))
	f.mu.Unlock()
	var stats []InstanceStats
	for _, in := range list {
		in.mu.Lock()
		if in.epoch != 0 && !in.deleted {
			st := InstanceStats{Name: in.name, Store: f.name, Epoch: in.epoch, Version: in.version, Subscribers: len(in.subs)}
			// The frame is what the next subscriber would be sent, so
			// encoding it now is work that subscriber would have done.
			if snap, err := in.snapLocked(); err == nil {
				st.Bytes = len(snap)
			}
			stats = append(stats, st)
		}
		in.mu.Unlock()
	}
	return stats
}

// Engine returns the engine the server commits changes through: the one
// given with WithEngine, or its own in-memory engine.
func (s *Server) Engine() Engine {
	if o, ok := s.opts.engine.(observedEngine); ok {
		return o.Engine
	}
	return s.opts.engine
}
