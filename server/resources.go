package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
	"github.com/falsify-dev/falsify/tools"
)

// PlanURIPrefix is the URI prefix of plan resources.
const PlanURIPrefix = "falsify://plans/"

const markdown = "text/markdown"

// resources serves plans (and, with sessions, their artifacts) as MCP
// resources.
type resources struct {
	ws  *session.Workspace
	srv *mcpserver.MCPServer
}

// PlanURI returns the resource URI of the plan with slug.
func PlanURI(slug string) string { return PlanURIPrefix + slug }

func (r *resources) register() error {
	r.srv.AddResourceTemplate(
		mcp.NewResourceTemplate(PlanURIPrefix+"{slug}", "plan",
			mcp.WithTemplateTitle("Test plan"),
			mcp.WithTemplateDescription("A test plan, testing-plans/<slug>.md in the workspace, as Markdown."),
			mcp.WithTemplateMIMEType(markdown),
		),
		r.readPlan,
	)
	r.srv.AddResourceTemplate(
		mcp.NewResourceTemplate(tools.SessionURIPrefix+"{+path}", "session artifact",
			mcp.WithTemplateTitle("Session artifact"),
			mcp.WithTemplateDescription("A file of a test session, test-sessions/<slug>/<UTC>/<path> in the workspace: session-log.md, findings/<scenario>.md, artifacts/<run>/history.jsonl, checker artifacts. Tools link to these rather than returning their content."),
		),
		r.readSessionFile,
	)
	slugs, err := tools.ListPlans(r.ws)
	if err != nil {
		return fmt.Errorf("list plans: %w", err)
	}
	for _, slug := range slugs {
		r.addPlan(slug)
	}
	return nil
}

// addPlan lists the plan with slug as a resource.
func (r *resources) addPlan(slug string) {
	r.srv.AddResource(
		mcp.NewResource(PlanURI(slug), slug,
			mcp.WithResourceDescription("Test plan "+tools.PlanFile(slug)),
			mcp.WithMIMEType(markdown),
		),
		r.readPlan,
	)
}

func (r *resources) readPlan(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	slug, err := tools.PlanSlug(strings.TrimPrefix(uri, PlanURIPrefix))
	if err != nil || !strings.HasPrefix(uri, PlanURIPrefix) {
		return nil, fmt.Errorf("%s: not a plan URI (want %s<slug>): %w", uri, PlanURIPrefix, mcpserver.ErrResourceNotFound)
	}
	data, err := r.ws.ReadFile(tools.PlanFile(slug))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no plan %s: %w", uri, tools.PlanFile(slug), mcpserver.ErrResourceNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: markdown, Text: string(data)}}, nil
}

// maxResourceBytes bounds what one resource read returns.
const maxResourceBytes = 32 << 20

func (r *resources) readSessionFile(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	uri := req.Params.URI
	rel, ok := tools.SessionFile(uri)
	if !ok {
		return nil, fmt.Errorf("%s: not a session artifact URI (want %s<slug>/<UTC>/<path>): %w", uri, tools.SessionURIPrefix, mcpserver.ErrResourceNotFound)
	}
	abs, err := r.ws.Resolve(rel)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no file %s: %w", uri, rel, mcpserver.ErrResourceNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: %s is a directory: %w", uri, rel, mcpserver.ErrResourceNotFound)
	}
	if st.Size() > maxResourceBytes {
		return nil, fmt.Errorf("%s: %s is %d bytes, over the %d-byte limit of a resource read; read the file from the workspace", uri, rel, st.Size(), maxResourceBytes)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", uri, err)
	}
	mime := tools.MIMEType(rel)
	if utf8.Valid(data) {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: mime, Text: string(data)}}, nil
	}
	return []mcp.ResourceContents{mcp.BlobResourceContents{URI: uri, MIMEType: mime, Blob: base64.StdEncoding.EncodeToString(data)}}, nil
}
