package checkers

import (
	"context"
	"strings"
	"testing"
)

func TestSLOThreshold(t *testing.T) {
	const p99 = `{"metric":"p99_ms","samples":[[0,80],[1000,95],[2000,130],[3000,90],[4000,140]]}`
	base := func(extra map[string]any) map[string]any {
		o := map[string]any{"threshold": 100.0, "threshold_source": "SLO doc v3", "metric": "p99_ms"}
		for k, v := range extra {
			o[k] = v
		}
		return o
	}
	tests := []struct {
		name   string
		data   string
		opts   map[string]any
		want   string
		breach int
	}{
		{"breached", p99, base(nil), StatusViolation, 2},
		{"within in the window", p99, base(map[string]any{"window": []any{0.0, 1500.0}}), StatusOK, 0},
		{"window with open end", p99, base(map[string]any{"window": []any{2500.0, nil}}), StatusViolation, 1},
		{"statistic p50", p99, base(map[string]any{"statistic": "p50"}), StatusOK, 0},
		{"statistic max", p99, base(map[string]any{"statistic": "max"}), StatusViolation, 1},
		{"floor", `[500, 480, 510]`, map[string]any{"threshold": 490.0, "threshold_source": "capacity plan", "comparison": ">="}, StatusViolation, 1},
		{"floor met", `[500, 495, 510]`, map[string]any{"threshold": 490.0, "threshold_source": "capacity plan", "comparison": ">="}, StatusOK, 0},
		{"t/v objects", `{"samples":[{"t":1,"v":50},{"t":2,"v":101}]}`, base(nil), StatusViolation, 1},
		{"empty window", p99, base(map[string]any{"window": []any{9000.0, 10000.0}}), StatusUnknown, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "slo-threshold", Input{Model: "other", States: []State{metricState("latency", tt.data)}, Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s", res.Status, tt.want, res.Evidence)
			}
			if tt.breach > 0 && res.Anomalies[0].Witness.(sloWitness).Count != tt.breach {
				t.Errorf("breaches %+v, want %d", res.Anomalies[0].Witness, tt.breach)
			}
		})
	}
	res := check(t, "slo-threshold", Input{Model: "other", States: []State{metricState("latency", p99)}, Options: base(nil)})
	if want := "slo-threshold checked 5 samples (1 series) over the whole run: each <= 100 (from SLO doc v3): 1 breach"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, "2 samples of 5 in the window breach <= 100 (from SLO doc v3), worst 140 at t=2000") {
		t.Errorf("description %q", d)
	}
}

// TestSLOThresholdSameRun: a threshold taken from the run it judges is
// the classic trap; it is refused, as is an undeclared source.
func TestSLOThresholdSameRun(t *testing.T) {
	c, _ := Lookup("slo-threshold")
	for _, opts := range []map[string]any{
		{"threshold": 100.0, "threshold_source": "this-run"},
		{"threshold": 100.0, "threshold_source": "Same Run"},
		{"threshold": 100.0},
		{"threshold_source": "SLO"},
	} {
		_, err := c.Check(context.Background(), Input{Model: "other", States: []State{metricState("s", `[1,2]`)}, Options: opts})
		if err == nil {
			t.Errorf("%v accepted", opts)
		}
	}
}
