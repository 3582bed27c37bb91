package hotinspect

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Nodes find each other through the engine: while a page is open, its
// node asks on nodesChannel at every refresh, and the inspector of every
// node sharing the engine, this one included, answers with what it holds.
// How long an answer takes is the engine's round trip, a measure of its
// health. While no page is open anywhere nothing is published.
const nodesChannel = "$inspect.nodes"

// nodeMsg is a question (Ask set) or an answer (Node set) on nodesChannel.
type nodeMsg struct {
	Ask  uint64   `json:"ask,omitempty"`
	From string   `json:"from,omitempty"`
	To   string   `json:"to,omitempty"`
	Seq  uint64   `json:"seq,omitempty"`
	Node *nodeRow `json:"node,omitempty"`
}

// nodeRow describes a node to the page.
type nodeRow struct {
	ID        string  `json:"id"`
	Host      string  `json:"host"`
	PID       int     `json:"pid"`
	Self      bool    `json:"self"`
	Sessions  int     `json:"sessions"`
	Instances int     `json:"instances"`
	RTTMs     float64 `json:"rttMs"` // from the question to this answer
}

// nodes is what this node knows of the others. Its fields are set by
// attach, before the listener that uses them starts.
type nodes struct {
	id   string
	host string
	stop func()

	mu    sync.Mutex // guards seq, asked, seen
	seq   uint64
	asked map[uint64]time.Time
	// seen holds the latest answer of each node and when it came.
	seen map[string]seenNode
}

type seenNode struct {
	row nodeRow
	at  time.Time
}

func newNodeID() string { return strings.ToLower(rand.Text()[:8]) }

// ask publishes a question and returns the nodes that answered lately.
func (i *Inspector) ask() []nodeRow {
	n := &i.nodes
	n.mu.Lock()
	n.seq++
	seq := n.seq
	if n.asked == nil {
		n.asked = map[uint64]time.Time{}
	}
	n.asked[seq] = time.Now()
	// Questions never answered are forgotten after a few refreshes.
	for s := range n.asked {
		if s+8 < seq {
			delete(n.asked, s)
		}
	}
	n.mu.Unlock()
	msg, _ := json.Marshal(nodeMsg{Ask: seq, From: n.id})
	ctx, cancel := context.WithTimeout(context.Background(), i.interval)
	defer cancel()
	_ = i.srv.Engine().Publish(ctx, nodesChannel, msg)

	n.mu.Lock()
	defer n.mu.Unlock()
	var rows []nodeRow
	for id, s := range n.seen {
		if time.Since(s.at) > 4*i.interval+time.Second {
			delete(n.seen, id)
			continue
		}
		rows = append(rows, s.row)
	}
	slices.SortFunc(rows, func(a, b nodeRow) int { return strings.Compare(a.ID, b.ID) })
	return rows
}

// heard handles a message on nodesChannel. It runs on the engine's
// goroutine and must not block, so answers are published from a goroutine
// of their own, which Close waits for.
func (i *Inspector) heard(b []byte) {
	var m nodeMsg
	if json.Unmarshal(b, &m) != nil {
		return
	}
	n := &i.nodes
	switch {
	case m.Ask != 0 && m.From != "":
		i.mu.Lock()
		defer i.mu.Unlock()
		if i.closed {
			return
		}
		i.wg.Add(1)
		go i.answer(m.From, m.Ask)
	case m.Node != nil && m.To == n.id:
		n.mu.Lock()
		defer n.mu.Unlock()
		at, ok := n.asked[m.Seq]
		if !ok {
			return
		}
		row := *m.Node
		row.Self = row.ID == n.id
		row.RTTMs = ms(int64(time.Since(at)))
		if n.seen == nil {
			n.seen = map[string]seenNode{}
		}
		n.seen[row.ID] = seenNode{row: row, at: time.Now()}
	}
}

func (i *Inspector) answer(to string, seq uint64) {
	defer i.wg.Done()
	row := nodeRow{ID: i.nodes.id, Host: i.nodes.host, PID: os.Getpid(), Sessions: len(i.srv.Sessions())}
	for _, in := range i.srv.Instances() {
		if !strings.HasPrefix(in.Name, systemPrefix) {
			row.Instances++
		}
	}
	msg, _ := json.Marshal(nodeMsg{To: to, Seq: seq, Node: &row})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = i.srv.Engine().Publish(ctx, nodesChannel, msg)
}
