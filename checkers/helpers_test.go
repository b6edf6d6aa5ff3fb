package checkers

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// timeout marks a crafted op that never got a response.
const timeout = -1

// op builds a crafted history row. complete == timeout leaves complete_ts
// null with the timeout marker set; input and output are JSON ("" is null).
func op(id, process, opType string, invoke, complete int64, input, output string) history.Op {
	o := history.Op{OpID: id, ProcessID: &process, OpType: opType, InvokeTS: &invoke}
	if complete == timeout {
		marker := true
		o.TimeoutMarker = &marker
	} else {
		marker := false
		o.TimeoutMarker = &marker
		o.CompleteTS = &complete
	}
	if input != "" {
		o.Input = json.RawMessage(input)
	}
	if output != "" {
		o.Output = json.RawMessage(output)
	}
	return o
}

// failed marks a crafted op as completed with an error (Jepsen's :fail).
func failed(o history.Op) history.Op {
	e := "fail"
	o.Error = &e
	o.Output = nil
	return o
}

// keyed sets a crafted op's key.
func keyed(k string, o history.Op) history.Op {
	o.Key = &k
	return o
}

// corpusDir returns the conformance corpus kept in the repository.
func corpusDir(t testing.TB) string {
	dir := filepath.Join("..", "testdata", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("conformance corpus missing from the repository: %v", err)
	}
	return dir
}

var porcupineDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anishathalye/porcupine").Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
})

// porcupineData returns porcupine's test_data directory from the module
// cache, skipping the test when it cannot be found.
func porcupineData(t testing.TB) string {
	dir, err := porcupineDir()
	if err == nil {
		dir = filepath.Join(dir, "test_data")
		_, err = os.Stat(dir)
	}
	if err != nil {
		t.Fatalf("porcupine test_data not available: %v", err)
	}
	return dir
}

// importFile reads a history file through the history importer.
func importFile(t testing.TB, path, format string) []history.Op {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp, err := history.Import(f, format)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	if len(imp.Rejected) > 0 {
		t.Fatalf("import %s: %d rows rejected, first: %v", path, len(imp.Rejected), imp.Rejected[0])
	}
	return imp.Ops
}

// check runs the named checker, failing the test on an error.
func check(t testing.TB, name string, in Input) *Result {
	t.Helper()
	c, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Check(context.Background(), in)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}
