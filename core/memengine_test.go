package hotstate_test

import (
	"testing"

	hotstate "github.com/hotstate/hotstate/core"
	"github.com/hotstate/hotstate/core/enginetest"
)

func TestMemoryEngineConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) hotstate.Engine {
		return hotstate.NewMemoryEngine(cfg.MaxChanges, 1<<20)
	})
}
