package tools

import (
	"errors"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/falsify-dev/falsify/session"
)

// PlanDir is the workspace directory plans live in (SPEC §2).
const PlanDir = "testing-plans"

var slugPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// PlanSlug returns the slug a plan reference names: "kvstore",
// "kvstore.md" and "testing-plans/kvstore.md" all name "kvstore". Anything
// else (another directory, "..", an absolute path) is an error.
func PlanSlug(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	s := strings.TrimPrefix(ref, PlanDir+"/")
	s = strings.TrimSuffix(s, ".md")
	if s == "" || !slugPattern.MatchString(s) || strings.Contains(s, "..") {
		return "", argErr("plan",
			`pass the plan's slug, e.g. "kvstore" for testing-plans/kvstore.md (letters, digits, '.', '-', '_'; no '/' or '..')`,
			"%q is not a plan slug", ref)
	}
	return s, nil
}

// PlanFile returns the workspace-relative path of the plan with slug.
func PlanFile(slug string) string { return path.Join(PlanDir, slug+".md") }

// ListPlans returns the slugs of the plans under testing-plans/, sorted.
// A missing directory is no plans.
func ListPlans(ws *session.Workspace) ([]string, error) {
	dir, err := ws.Resolve(PlanDir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var slugs []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".md") || strings.HasPrefix(name, ".") {
			continue
		}
		if slug, err := PlanSlug(name); err == nil {
			slugs = append(slugs, slug)
		}
	}
	sort.Strings(slugs)
	return slugs, nil
}

// resolvePlanRef maps lint_plan's "plan" argument to a workspace-relative
// file: a slug names testing-plans/<slug>.md; anything ending in ".md" or
// containing a '/' is a path relative to the workspace root.
func resolvePlanRef(ws *session.Workspace, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", argErr("plan", `pass a plan slug ("kvstore") or a workspace-relative path ("testing-plans/kvstore.md")`, "is empty")
	}
	rel := ref
	if !strings.HasSuffix(ref, ".md") && !strings.ContainsAny(ref, `/\`) {
		slug, err := PlanSlug(ref)
		if err != nil {
			return "", err
		}
		rel = PlanFile(slug)
	}
	if _, err := ws.Resolve(rel); err != nil {
		if errors.Is(err, session.ErrEscape) {
			return "", argErr("plan", "pass a path inside the workspace root "+ws.Root()+", relative to it", "%v", err)
		}
		return "", argErr("plan", "pass a readable path inside the workspace", "%v", err)
	}
	return rel, nil
}
