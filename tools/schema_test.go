package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/falsify-dev/falsify/tools"
)

var update = flag.Bool("update", false, "rewrite testdata/tools_list.golden.json from the current tools")

const golden = "testdata/tools_list.golden.json"

func listTools(t *testing.T) []mcp.Tool {
	t.Helper()
	c := newClient(t, t.TempDir())
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Tools
}

// TestToolsListGolden pins the whole tools/list answer — names,
// descriptions, schemas and annotations — so that no change to the MCP
// surface goes unreviewed. Run "go test ./tools -run Golden -update" to
// accept a change, then review the diff.
func TestToolsListGolden(t *testing.T) {
	got, err := json.MarshalIndent(map[string]any{"tools": listTools(t)}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./tools -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("tools/list differs from %s:\n%s\nIf the change is intended, run go test ./tools -run Golden -update and review the diff.", golden, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// TestSchemasHaveNoTypeArrays walks every tool's input and output schema
// and fails on any "type" that is an array (Gemini rejects them) or a
// "null" type.
func TestSchemasHaveNoTypeArrays(t *testing.T) {
	for _, tool := range listTools(t) {
		raw, err := json.Marshal(tool)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"inputSchema", "outputSchema"} {
			s, ok := v[key]
			if !ok {
				t.Errorf("%s: no %s", tool.Name, key)
				continue
			}
			walkTypes(s, tool.Name+"."+key, func(path string, typ any) {
				switch x := typ.(type) {
				case string:
					if x == "null" {
						t.Errorf("%s: type is null", path)
					}
				default:
					t.Errorf("%s: type is %v, want a single type name", path, typ)
				}
			})
		}
	}
}

func walkTypes(v any, path string, f func(path string, typ any)) {
	switch n := v.(type) {
	case map[string]any:
		for k, child := range n {
			if k == "type" {
				f(path+".type", child)
				continue
			}
			walkTypes(child, path+"."+k, f)
		}
	case []any:
		for i, child := range n {
			walkTypes(child, fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}

// TestAnnotationsExplicit checks that every tool sets a title and all four
// hints, to the values its behaviour warrants, and says when to call it.
func TestAnnotationsExplicit(t *testing.T) {
	// readOnly, destructive, idempotent, openWorld
	want := map[string][4]bool{
		"extract_claims":     {true, false, true, false},
		"lint_plan":          {true, false, true, false},
		"write_plan_section": {false, true, true, false},
		"start_session":      {false, false, false, false},
		"start_run":          {false, false, false, false},
		"record_op":          {false, false, false, false},
		"import_history":     {false, false, false, false},
		"record_state":       {false, true, true, false},
		"run_checker":        {false, false, true, false},
		"inject_fault":       {false, true, false, false},
		"register_target":    {false, false, false, false},
		"inject_schedule":    {false, true, false, false},
		"probe_env":          {true, false, true, false},
		"server_info":        {true, false, true, false},
		"measure_fault":      {false, false, false, false},
		"heal_fault":         {false, false, false, false},
		"assign_verdict":     {false, false, true, false},
		"reduce_history":     {false, false, true, false},
		"finish_session":     {false, false, true, false},
	}
	tools := listTools(t)
	if len(tools) != len(want) {
		t.Errorf("%d tools, want %d", len(tools), len(want))
	}
	for _, tool := range tools {
		a := tool.Annotations
		if a.Title == "" || a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: annotations not all set: %+v", tool.Name, a)
			continue
		}
		w, ok := want[tool.Name]
		if !ok {
			t.Errorf("unexpected tool %s", tool.Name)
			continue
		}
		got := [4]bool{*a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint}
		if got != w {
			t.Errorf("%s: hints (readOnly, destructive, idempotent, openWorld) = %v, want %v", tool.Name, got, w)
		}
		if !strings.Contains(strings.ToLower(tool.Description), "call it") {
			t.Errorf("%s: description does not say when to call it: %q", tool.Name, tool.Description)
		}
	}
}

func TestNormalizeSchema(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"type":["null","array"],"items":{"type":"string"}}`, `{"items":{"type":"string"},"type":"array"}`},
		{`{"type":"object","properties":{"a":{"type":["null","object"],"properties":{"b":{"type":["array","null"]}}}}}`,
			`{"properties":{"a":{"properties":{"b":{"type":"array"}},"type":"object"}},"type":"object"}`},
		{`{"type":"string"}`, `{"type":"string"}`},
		{`{"$defs":{"X":{"type":["null","integer"]}},"properties":{"type":{"type":"string"}}}`,
			`{"$defs":{"X":{"type":"integer"}},"properties":{"type":{"type":"string"}}}`},
		{`{"anyOf":[{"type":["null","number"]}]}`, `{"anyOf":[{"type":"number"}]}`},
		// A nullable scalar becomes optional; a nullable array stays required.
		{`{"type":"object","required":["a","b","c"],"properties":{"a":{"type":["null","integer"]},"b":{"type":["null","array"]},"c":{"type":"string"}}}`,
			`{"properties":{"a":{"type":"integer"},"b":{"type":"array"},"c":{"type":"string"}},"required":["b","c"],"type":"object"}`},
	}
	for _, tc := range tests {
		got, err := tools.NormalizeSchema(json.RawMessage(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("NormalizeSchema(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	if _, err := tools.NormalizeSchema(json.RawMessage(`{`)); err == nil {
		t.Error("NormalizeSchema accepted malformed JSON")
	}
}

func TestGoldenFileIsValidJSON(t *testing.T) {
	raw, err := os.ReadFile(filepath.FromSlash(golden))
	if err != nil {
		t.Skip(err)
	}
	if !json.Valid(raw) {
		t.Fatalf("%s is not valid JSON", golden)
	}
}
