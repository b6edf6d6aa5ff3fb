package tools

import (
	"context"
	"path"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// ImportHistoryArgs are import_history's arguments.
type ImportHistoryArgs struct {
	Run    string `json:"run" jsonschema_description:"Run id from start_run."`
	Path   string `json:"path" jsonschema_description:"Workspace-relative history file."`
	Format string `json:"format,omitempty" jsonschema:"enum=jsonl,enum=jepsen-edn,enum=jepsen-log,enum=porcupine" jsonschema_description:"jsonl (falsify's own rows), jepsen-edn (a vector or one map per line; :process :nemesis rows become fault epochs), jepsen-log (the op lines of jepsen.log) or porcupine (Porcupine's operation form). Default: from the file extension (.jsonl, .edn, .log, .json)."`
}

// ImportHistoryResult is import_history's result.
type ImportHistoryResult struct {
	Format string `json:"format" jsonschema_description:"The format read."`
	session.ImportResult
}

func (e *Env) importHistory() server.ServerTool {
	tool := mcp.NewTool("import_history",
		mcp.WithDescription("Import a whole history file into a run: falsify's JSON Lines, a Jepsen EDN history (:invoke/:ok/:fail/:info; :info is indeterminate; nemesis rows become fault epochs), the op lines of a jepsen.log, or Porcupine's operation form. "+
			"Call it instead of record_op when the harness already wrote a history. Rows go through the same validation as record_op; returns accepted and rejected counts with reasons, unreadable lines, the field mapping used and the fault epochs created."),
		mcp.WithInputSchema[ImportHistoryArgs](),
		mcp.WithOutputSchema[ImportHistoryResult](),
		annotations("Import a history file", false, false, false, false),
	)
	return register(e, tool, e.doImportHistory)
}

// FormatFromPath picks a history format from a file name: .jsonl →
// jsonl, .edn → jepsen-edn, .log → jepsen-log, .json → porcupine.
func FormatFromPath(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".jsonl", ".ndjson":
		return "jsonl"
	case ".edn":
		return "jepsen-edn"
	case ".log":
		return "jepsen-log"
	case ".json":
		return "porcupine"
	}
	return ""
}

func (e *Env) doImportHistory(ctx context.Context, _ mcp.CallToolRequest, args ImportHistoryArgs) (ImportHistoryResult, error) {
	if strings.TrimSpace(args.Path) == "" {
		return ImportHistoryResult{}, argErr("path", "pass the workspace-relative path of the history file", "is empty")
	}
	format := strings.TrimSpace(args.Format)
	if format == "" {
		if format = FormatFromPath(args.Path); format == "" {
			return ImportHistoryResult{}, argErr("format", "pass jsonl, jepsen-edn, jepsen-log or porcupine", "cannot tell the format of %q from its extension", args.Path)
		}
	}
	res, err := e.sessions.ImportHistory(ctx, args.Run, args.Path, format)
	if err != nil {
		return ImportHistoryResult{}, err
	}
	return ImportHistoryResult{Format: format, ImportResult: *res}, nil
}
