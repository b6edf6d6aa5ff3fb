package checkers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// elleDotTimeout bounds one run of Graphviz's dot.
const elleDotTimeout = 20 * time.Second

// writeElleDOT writes one cycle as a Graphviz DOT file in dir, named
// after its index and class, and renders it to SVG when the dot binary
// is installed. It returns the files written.
func writeElleDOT(ctx context.Context, dir string, i int, f elleFinding, txns []elleTxn, w elleWorkload, consistency string, violation bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("artifact dir: %w", err)
	}
	base := fmt.Sprintf("elle-cycle-%03d-%s", i+1, f.kind)
	path := filepath.Join(dir, base+".dot")
	if err := os.WriteFile(path, []byte(elleCycleDOT(f, txns, w, consistency, violation)), 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	paths := []string{path}
	if bin, err := exec.LookPath("dot"); err == nil {
		svg := filepath.Join(dir, base+".svg")
		dctx, cancel := context.WithTimeout(ctx, elleDotTimeout)
		defer cancel()
		if err := exec.CommandContext(dctx, bin, "-Tsvg", "-o", svg, path).Run(); err == nil {
			paths = append(paths, svg)
		}
	}
	return paths, nil
}

// elleEdgeColors tells the relations apart in a drawing.
var elleEdgeColors = map[elleEdgeMask]string{
	edgeWW:       "#1f77b4",
	edgeWR:       "#2ca02c",
	edgeRW:       "#d62728",
	edgeProcess:  "#7f7f7f",
	edgeRealtime: "#9467bd",
}

// elleCycleDOT renders a cycle: one node per transaction (its name, op id and
// micro-ops), one labelled edge per step.
func elleCycleDOT(f elleFinding, txns []elleTxn, w elleWorkload, consistency string, violation bool) string {
	names := elleCycleNames(f.steps)
	verdict := "allowed by " + consistency
	if violation {
		verdict = "proscribed by " + consistency
	}
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", strconv.Quote(f.kind))
	fmt.Fprintf(&b, "  label=%s;\n  labelloc=t;\n  node [shape=box, fontname=\"monospace\"];\n  edge [fontname=\"monospace\"];\n",
		elleDotQuote(fmt.Sprintf("%s cycle (%s)", f.kind, verdict)))
	for _, st := range f.steps {
		t := &txns[st.from]
		fmt.Fprintf(&b, "  %s [label=%s];\n", elleDotQuote(names[st.from]),
			elleDotQuote(fmt.Sprintf("%s = op %s\n%s", names[st.from], t.id, elleDescribeMops(t))))
	}
	for _, st := range f.steps {
		why := elleExplain(st, txns, w, names)
		fmt.Fprintf(&b, "  %s -> %s [label=%s, color=%s, fontcolor=%s, tooltip=%s];\n",
			elleDotQuote(names[st.from]), elleDotQuote(names[st.to]), elleDotQuote(st.kind.name()),
			elleDotQuote(elleEdgeColors[st.kind]), elleDotQuote(elleEdgeColors[st.kind]), elleDotQuote(why))
	}
	b.WriteString("}\n")
	return b.String()
}

// elleDescribeMops writes a transaction's micro-ops compactly: "append 9 3,
// r 9 [1, 2, 3]".
func elleDescribeMops(t *elleTxn) string {
	var parts []string
	for i, m := range t.mops {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("… %d more", len(t.mops)-8))
			break
		}
		switch m.f {
		case mopAppend:
			parts = append(parts, "append "+m.key.JSON()+" "+m.v.JSON())
		case mopWrite:
			parts = append(parts, "w "+m.key.JSON()+" "+m.v.JSON())
		default:
			switch {
			case !m.known:
				parts = append(parts, "r "+m.key.JSON()+" ?")
			case m.list != nil:
				parts = append(parts, "r "+m.key.JSON()+" "+elleList(m.list))
			default:
				parts = append(parts, "r "+m.key.JSON()+" "+m.v.JSON())
			}
		}
	}
	return strings.Join(parts, "\n")
}

// elleDotQuote quotes s as a DOT string.
func elleDotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
