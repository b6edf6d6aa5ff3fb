package tools

import (
	"context"
	"path"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/plan"
	"github.com/falsify-dev/falsify/session"
)

// ExtractClaimsArgs are extract_claims' arguments.
type ExtractClaimsArgs struct {
	Root  string   `json:"root,omitempty" jsonschema_description:"Directory of the SUT repository, relative to the workspace root. Default: the workspace root itself."`
	Paths []string `json:"paths,omitempty" jsonschema_description:"Restrict claims to these files or directories (relative to root), e.g. the files a change touches. Docs elsewhere are still read to decide which behaviours no doc backs."`
	Limit int      `json:"limit,omitempty" jsonschema_description:"Maximum number of candidate claims (and of candidate missing claims). Default 200."`
}

// ExtractClaimsResult is extract_claims' result.
type ExtractClaimsResult struct {
	Root         string             `json:"root" jsonschema_description:"The directory scanned, relative to the workspace root ('.' for the root)."`
	Claims       []CandidateClaim   `json:"claims" jsonschema_description:"Candidate claims for §1b, ordered by source."`
	Missing      []CandidateMissing `json:"missing" jsonschema_description:"Candidate missing claims for §1c: behaviours the code relies on that no document states."`
	FilesScanned int                `json:"files_scanned"`
	Truncated    bool               `json:"truncated" jsonschema_description:"True when the scan stopped early or results were cut to the limit; reason says which."`
	Reason       string             `json:"reason"`
}

// CandidateClaim is one candidate claim.
type CandidateClaim struct {
	Text       string   `json:"text"`
	Category   string   `json:"category" jsonschema_description:"Claim category (SPEC §2.3)."`
	Source     string   `json:"source" jsonschema_description:"path:line, relative to the workspace root."`
	Inferred   bool     `json:"inferred" jsonschema_description:"True when derived from a name (error type, test) rather than stated in prose."`
	Confidence float64  `json:"confidence" jsonschema_description:"0..1"`
	Kind       string   `json:"kind" jsonschema_description:"doc, comment, error-name or test-name"`
	Keywords   []string `json:"keywords" jsonschema_description:"Lexicon phrases that decided the category and confidence."`
}

// CandidateMissing is one candidate missing claim.
type CandidateMissing struct {
	Behavior string `json:"behavior"`
	Source   string `json:"source" jsonschema_description:"path:line, relative to the workspace root."`
	Evidence string `json:"evidence"`
	Kind     string `json:"kind" jsonschema_description:"error-type, timeout-constant, retry-constant or ttl-constant"`
}

func (e *Env) extractClaims() server.ServerTool {
	tool := mcp.NewTool("extract_claims",
		mcp.WithDescription("Scan the SUT repository for candidate claims — guarantees stated in Markdown docs and code comments, or implied by error names (ErrStaleRead) and test names (TestLinearizableUnderPartition) in Go, Rust, Java, Python and TypeScript — each with a category, path:line source, inferred-or-stated flag and confidence; and candidate missing claims (error types, timeout/retry/TTL constants no doc backs). "+
			"Call it at the start of designing a plan, before writing §1b and §1c; pass paths to focus on the files a change touches. Skips vendor, node_modules, build output and binaries; bounded in time. Reads only."),
		mcp.WithInputSchema[ExtractClaimsArgs](),
		mcp.WithOutputSchema[ExtractClaimsResult](),
		annotations("Extract candidate claims", true, false, true, false),
	)
	return register(e, tool, e.doExtractClaims)
}

func (e *Env) doExtractClaims(ctx context.Context, _ mcp.CallToolRequest, args ExtractClaimsArgs) (ExtractClaimsResult, error) {
	root := strings.TrimSpace(args.Root)
	if root == "" {
		root = "."
	}
	abs, err := e.ws.Resolve(root)
	if err != nil {
		return ExtractClaimsResult{}, argErr("root", "pass a directory relative to the workspace root "+e.ws.Root()+", or omit it", "%v", err)
	}
	for i, p := range args.Paths {
		if _, err := e.ws.Resolve(filepath.Join(root, p)); err != nil || filepath.IsAbs(p) {
			if err == nil {
				err = session.ErrEscape
			}
			return ExtractClaimsResult{}, argErr("paths", "pass paths relative to root that stay inside the workspace", "paths[%d] %q: %v", i, p, err)
		}
	}
	if args.Limit < 0 {
		return ExtractClaimsResult{}, argErr("limit", "pass a positive number, or omit it for the default of 200", "%d is negative", args.Limit)
	}
	rep, err := plan.ExtractClaims(ctx, abs, plan.ClaimOptions{Paths: args.Paths, Limit: args.Limit})
	if err != nil {
		if ctx.Err() != nil {
			return ExtractClaimsResult{}, ctx.Err()
		}
		if len(args.Paths) > 0 {
			return ExtractClaimsResult{}, argErr("paths", "pass existing files or directories relative to root", "%v", err)
		}
		return ExtractClaimsResult{}, argErr("root", "pass an existing directory relative to the workspace root", "%v", err)
	}
	return ClaimsResult(filepath.ToSlash(filepath.Clean(root)), rep), nil
}

// ClaimsResult converts a claim report for the directory root (relative
// to the workspace; sources are made relative to the workspace too). The
// CLI's claims command prints the same result.
func ClaimsResult(root string, rep *plan.ClaimReport) ExtractClaimsResult {
	src := func(s string) string {
		if root == "." || root == "" {
			return s
		}
		return path.Join(root, s)
	}
	res := ExtractClaimsResult{
		Root:         root,
		Claims:       make([]CandidateClaim, 0, len(rep.Claims)),
		Missing:      make([]CandidateMissing, 0, len(rep.Missing)),
		FilesScanned: rep.FilesScanned,
		Truncated:    rep.Truncated,
		Reason:       rep.Reason,
	}
	for _, c := range rep.Claims {
		kw := c.Keywords
		if kw == nil {
			kw = []string{}
		}
		res.Claims = append(res.Claims, CandidateClaim{
			Text: c.Text, Category: c.Category, Source: src(c.Source), Inferred: c.Inferred,
			Confidence: c.Confidence, Kind: c.Kind, Keywords: kw,
		})
	}
	for _, m := range rep.Missing {
		res.Missing = append(res.Missing, CandidateMissing{Behavior: m.Behavior, Source: src(m.Source), Evidence: m.Evidence, Kind: m.Kind})
	}
	return res
}
