// Package tools holds falsify's MCP tools, one file per tool. A tool
// decodes its arguments, calls a domain package (plan, session, history,
// checkers) and encodes the result; no testing rule lives here.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/falsify-dev/falsify/session"
)

// Config is what the tools need from the server that hosts them.
type Config struct {
	// Workspace confines every path a tool reads or writes.
	Workspace *session.Workspace
	// Sessions runs sessions, runs and verdicts. When nil the execution
	// tools are not served.
	Sessions *session.Manager
	// Log receives diagnostics; it must not write to stdout.
	Log zerolog.Logger
	// PlanWritten, when set, is called after a plan file is written for
	// the first time, so that the server can list it as a resource.
	PlanWritten func(slug string)
	// ReadOnly refuses every tool that writes (plans, sessions, runs,
	// history, faults, checks, verdicts): only tools annotated read-only
	// run, and heal_fault, so that a fault is never left behind.
	ReadOnly bool
	// NoFaults refuses the tools that inject faults (inject_*); heal_fault
	// and measuring stay allowed.
	NoFaults bool
	// Version is the server's version, reported by server_info; when
	// empty, the module version from the build info is used.
	Version string
}

// Env is the state the tool handlers share: the workspace and one lock
// per plan file, so that concurrent writes to a plan never interleave.
type Env struct {
	ws          *session.Workspace
	sessions    *session.Manager
	log         zerolog.Logger
	planWritten func(slug string)
	readOnly    bool
	noFaults    bool
	version     string
	started     time.Time // when New was called, for server_info's uptime
	locks       fileLocks
}

// New returns the tool environment for cfg.
func New(cfg Config) (*Env, error) {
	if cfg.Workspace == nil {
		return nil, errors.New("tools: Config.Workspace is required")
	}
	return &Env{ws: cfg.Workspace, sessions: cfg.Sessions, log: cfg.Log, planWritten: cfg.PlanWritten,
		readOnly: cfg.ReadOnly, noFaults: cfg.NoFaults, version: cfg.Version, started: time.Now()}, nil
}

// Tools returns every tool falsify serves, sorted by name, with schemas
// normalised so that no "type" is an array (see NormalizeSchema).
func (e *Env) Tools() []server.ServerTool {
	list := []server.ServerTool{
		e.extractClaims(),
		e.writePlanSection(),
		e.lintPlan(),
		e.probeEnv(),
		e.serverInfo(),
	}
	if e.sessions != nil {
		list = append(list,
			e.startSession(),
			e.startRun(),
			e.recordOp(),
			e.importHistory(),
			e.recordState(),
			e.runChecker(),
			e.registerTarget(),
			e.injectFault(),
			e.injectSchedule(),
			e.measureFault(),
			e.healFault(),
			e.assignVerdict(),
			e.reduceHistory(),
			e.finishSession(),
		)
	}
	for i := range list {
		list[i] = e.gate(list[i])
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Tool.Name < list[j].Tool.Name })
	return list
}

// gate replaces the handler of a tool the server's mode forbids (see
// Config.ReadOnly and Config.NoFaults) with one that refuses every call
// with an isError saying why, and says so in the tool's description.
func (e *Env) gate(t server.ServerTool) server.ServerTool {
	reason := e.refusal(t.Tool)
	if reason == "" {
		return t
	}
	t.Tool.Description = "REFUSED on this server: " + reason + " " + t.Tool.Description
	name := t.Tool.Name
	t.Handler = func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		e.log.Info().Str("tool", name).Msg("refused: " + reason)
		return mcp.NewToolResultError(name + ": refused: " + reason), nil
	}
	return t
}

// refusal returns why the server's mode forbids a tool, or "".
func (e *Env) refusal(t mcp.Tool) string {
	name := t.Name
	switch {
	case e.readOnly && strings.HasPrefix(name, "heal_"):
		return "" // healing never stays forbidden: no fault is left behind
	case e.readOnly && (t.Annotations.ReadOnlyHint == nil || !*t.Annotations.ReadOnlyHint):
		return "the server is read-only (--read-only): it writes no plan, session, history, fault or verdict and touches no system under test. Read-only tools (lint_plan, extract_claims) and resources still work; restart falsify without --read-only to run tests."
	case e.noFaults && strings.HasPrefix(name, "inject_"):
		return "fault injection is disabled on this server (--no-faults); heal_fault still works. Restart falsify without --no-faults to inject faults."
	}
	return ""
}

// annotations returns a tool's annotations with all four hints set
// explicitly (mcp-go defaults to destructive and open-world).
func annotations(title string, readOnly, destructive, idempotent, openWorld bool) mcp.ToolOption {
	return mcp.WithToolAnnotation(mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    mcp.ToBoolPtr(readOnly),
		DestructiveHint: mcp.ToBoolPtr(destructive),
		IdempotentHint:  mcp.ToBoolPtr(idempotent),
		OpenWorldHint:   mcp.ToBoolPtr(openWorld),
	})
}

// ArgError is a mistake in a tool call's arguments. Its text names the
// argument, what is wrong and how to fix it; it becomes an isError result.
type ArgError struct {
	Field   string // argument name, e.g. "section"
	Problem string
	Fix     string
}

func (e *ArgError) Error() string {
	if e.Fix == "" {
		return fmt.Sprintf("argument %q: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("argument %q: %s. Fix: %s", e.Field, e.Problem, e.Fix)
}

func argErr(field, fix, format string, a ...any) error {
	return &ArgError{Field: field, Problem: fmt.Sprintf(format, a...), Fix: fix}
}

// register finishes a tool: its schemas are normalised (NormalizeSchema)
// and its handler is f adapted by handler.
func register[A, R any](e *Env, tool mcp.Tool, f func(ctx context.Context, req mcp.CallToolRequest, args A) (R, error)) server.ServerTool {
	normalizeTool(&tool)
	var schema any
	if tool.RawOutputSchema != nil {
		if err := json.Unmarshal(tool.RawOutputSchema, &schema); err != nil {
			schema = nil
		}
	}
	return server.ServerTool{Tool: tool, Handler: handler(tool.Name, e.log, schema, f)}
}

// handler adapts a typed function to an MCP tool handler: arguments are
// bound to A by mcp-go's typed handler, a result R is returned as
// structured content with a JSON text copy (nil slices sent as [], as the
// output schema declares), and any error becomes an isError result whose
// text is the error's own message (an ArgError names the argument and the
// fix). It never returns a protocol error.
func handler[A, R any](name string, log zerolog.Logger, outSchema any, f func(ctx context.Context, req mcp.CallToolRequest, args A) (R, error)) server.ToolHandlerFunc {
	return mcp.NewTypedToolHandler(func(ctx context.Context, req mcp.CallToolRequest, args A) (*mcp.CallToolResult, error) {
		res, err := f(ctx, req, args)
		if err != nil {
			var ae *ArgError
			if errors.As(err, &ae) {
				log.Info().Str("tool", name).Str("field", ae.Field).Msg(ae.Problem)
				return mcp.NewToolResultError(err.Error()), nil
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return mcp.NewToolResultError(fmt.Sprintf("%s: cancelled before it finished (%v)", name, err)), nil
			}
			log.Warn().Str("tool", name).Err(err).Msg("tool refused")
			return mcp.NewToolResultError(fmt.Sprintf("%s: %v", name, err)), nil
		}
		structured, text, err := encodeResult(res, outSchema)
		if err != nil {
			return mcp.NewToolResultError(fmt.Sprintf("%s: encoding the result: %v", name, err)), nil
		}
		out := mcp.NewToolResultStructured(structured, text)
		if l, ok := any(res).(linker); ok {
			for _, link := range l.links() {
				out.Content = append(out.Content, link)
			}
		}
		return out, nil
	})
}

// encodeResult returns res as a JSON value conforming to schema (see
// fillNulls) and its JSON text.
func encodeResult(res any, schema any) (any, string, error) {
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, "", err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, "", err
	}
	root, _ := schema.(map[string]any)
	v = fillNulls(root, root, v)
	raw, err = json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	return v, string(raw), nil
}

// fillNulls makes v conform to its normalised schema: a null where an
// array is declared becomes [], any other null object member is left out
// (NormalizeSchema made it optional). root holds the $defs that "$ref"s
// point into.
func fillNulls(root, schema map[string]any, v any) any {
	if schema == nil {
		return v
	}
	if ref, ok := schema["$ref"].(string); ok {
		if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
			if defs, ok := root["$defs"].(map[string]any); ok {
				def, _ := defs[name].(map[string]any)
				return fillNulls(root, def, v)
			}
		}
		return v
	}
	switch x := v.(type) {
	case nil:
		if schema["type"] == "array" {
			return []any{}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for k, child := range x {
			ps, _ := props[k].(map[string]any)
			if child == nil && (ps == nil || ps["type"] != "array") {
				delete(x, k)
				continue
			}
			x[k] = fillNulls(root, ps, child)
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for i := range x {
			x[i] = fillNulls(root, items, x[i])
		}
	}
	return v
}

// normalizeTool rewrites a tool's input and output schemas with
// NormalizeSchema and stores them raw, so that what tools/list sends is
// exactly the normalised form.
func normalizeTool(t *mcp.Tool) {
	if t.RawInputSchema != nil {
		if out, err := NormalizeSchema(t.RawInputSchema); err == nil {
			t.RawInputSchema = out
		}
	}
	if t.OutputSchema.Type != "" {
		raw, err := json.Marshal(t.OutputSchema)
		if err != nil {
			return
		}
		if out, err := NormalizeSchema(raw); err == nil {
			t.RawOutputSchema = out
			t.OutputSchema = mcp.ToolOutputSchema{}
		}
	}
}

// NormalizeSchema replaces every "type" that is an array of types (mcp-go
// emits ["null","array"] for slices and pointers) with its first non-null
// member, since some clients (Gemini) reject type arrays. A nullable
// property that is not an array is dropped from its object's "required"
// list: null is expressed by leaving it out (the server treats an explicit
// null argument as absent, and results omit null members). Object keys come
// out sorted, so the result is deterministic.
func NormalizeSchema(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("normalise schema: %w", err)
	}
	v = normalizeNode(v)
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("normalise schema: %w", err)
	}
	return out, nil
}

func normalizeNode(v any) any {
	switch n := v.(type) {
	case map[string]any:
		if props, ok := n["properties"].(map[string]any); ok {
			if req, ok := n["required"].([]any); ok {
				kept := []any{}
				for _, r := range req {
					name, _ := r.(string)
					if !nullableScalar(props[name]) {
						kept = append(kept, r)
					}
				}
				n["required"] = kept
			}
		}
		for k, child := range n {
			if k == "type" {
				if types, ok := child.([]any); ok {
					n[k] = firstNonNull(types)
					continue
				}
			}
			n[k] = normalizeNode(child)
		}
		return n
	case []any:
		for i := range n {
			n[i] = normalizeNode(n[i])
		}
		return n
	default:
		return v
	}
}

// nullableScalar reports whether a property schema's type is an array
// that admits null and whose other member is not "array".
func nullableScalar(prop any) bool {
	m, ok := prop.(map[string]any)
	if !ok {
		return false
	}
	types, ok := m["type"].([]any)
	if !ok {
		return false
	}
	null := false
	for _, t := range types {
		if t == "null" {
			null = true
		}
	}
	return null && firstNonNull(types) != "array"
}

func firstNonNull(types []any) any {
	for _, t := range types {
		if s, ok := t.(string); ok && s != "null" {
			return s
		}
	}
	if len(types) > 0 {
		return types[0]
	}
	return "object"
}

// fileLocks hands out one mutex per key (an absolute file path).
type fileLocks struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (l *fileLocks) lock(key string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*sync.Mutex)
	}
	m, ok := l.m[key]
	if !ok {
		m = new(sync.Mutex)
		l.m[key] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// oneOf formats a list of allowed values for a fix message.
func oneOf(values []string) string {
	return strings.Join(values, ", ")
}

// withPropertyDescription sets the description of one property of a tool's
// generated input schema, for descriptions built at run time (struct tags
// are constant). It must follow mcp.WithInputSchema.
func withPropertyDescription(name, description string) mcp.ToolOption {
	return func(t *mcp.Tool) {
		var schema map[string]any
		if err := json.Unmarshal(t.RawInputSchema, &schema); err != nil {
			return
		}
		props, _ := schema["properties"].(map[string]any)
		prop, ok := props[name].(map[string]any)
		if !ok {
			return
		}
		prop["description"] = description
		if raw, err := json.Marshal(schema); err == nil {
			t.RawInputSchema = raw
		}
	}
}
