package hotstate_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
)

type benchItem struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

type benchList struct {
	Items []benchItem `json:"items"`
}

// BenchmarkUpdateContended: writers on every core updating one store of
// 1 000 items at once, with a subscriber: what one instance sustains when
// its writers queue for their turn.
func BenchmarkUpdateContended(b *testing.B) {
	srv := hotstate.New()
	var list benchList
	for i := range 1000 {
		list.Items = append(list.Items, benchItem{ID: i, Text: "item " + strconv.Itoa(i)})
	}
	s := hotstate.NewStore(srv, "L", list)
	s.Init()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1) % 1000)
			if err := s.Update(func(l *benchList) { l.Items[i].Done = !l.Items[i].Done }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
