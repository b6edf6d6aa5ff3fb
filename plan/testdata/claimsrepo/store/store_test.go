package store

import "testing"

func TestLinearizableUnderPartition(t *testing.T) {
	t.Run("reads observe the latest write", func(t *testing.T) {})
}

func TestParseFlags(t *testing.T) {}
