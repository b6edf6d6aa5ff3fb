package checkers

import (
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
)

func BenchmarkTmpVerbose(b *testing.B) {
	ops := importFile(b, filepath.Join(porcupineData(b), "kv", "c50-ok.txt"), "jepsen-edn")
	d := directKVOperations(b, ops)
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			porcupine.CheckOperationsTimeout(directKVModel, d, 0)
		}
	})
	b.Run("verbose", func(b *testing.B) {
		for b.Loop() {
			porcupine.CheckOperationsVerbose(directKVModel, d, 0)
		}
	})
}
