package plan

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const claimsRepo = "testdata/claimsrepo"

// claimsTruth is the ground truth for testdata/claimsrepo: every claim a
// careful reader finds in it (docs, comments, error names, test names),
// keyed by source, with its SPEC §2.3 category. Everything else in the
// fixture (install steps, marketing, license text, config tables, helper
// comments, preconditions, plain test and error names, vendored and built
// files) is a decoy.
var claimsTruth = map[string]string{
	// README.md — guarantees list and SLO.
	"README.md:8":  CategorySafety,      // single-key reads and writes are linearizable
	"README.md:9":  CategoryDurability,  // acknowledged writes are never lost
	"README.md:10": CategoryDurability,  // acknowledged only after fsync on a majority
	"README.md:11": CategoryIdempotency, // retried requests applied exactly once
	"README.md:12": CategoryIsolation,   // snapshot isolation
	"README.md:16": CategoryPerformance, // p99 latency below 10 ms
	// docs/consistency.md
	"docs/consistency.md:8":   CategorySafety,      // never stale reads
	"docs/consistency.md:9":   CategorySafety,      // read your own writes
	"docs/consistency.md:10":  CategorySafety,      // expired lease is fenced off
	"docs/consistency.md:14":  CategorySafety,      // table: single-key read linearizable
	"docs/consistency.md:15":  CategoryDurability,  // table: batch write durable once acked
	"docs/consistency.md:16":  CategoryLiveness,    // table: scan eventually consistent
	"docs/consistency.md:20":  CategoryIsolation,   // serializable transactions
	"docs/consistency.md:21":  CategoryIsolation,   // no write skew (G2-item)
	"docs/consistency.md:25":  CategoryOrdering,    // delivered in write order
	"docs/consistency.md:26":  CategoryOrdering,    // monotonically increasing sequence numbers
	"docs/consistency.md:30":  CategoryBoundary,    // tenant namespaces, authorization
	"docs/consistency.md:31":  CategoryFairness,    // noisy neighbours, fair share
	"docs/consistency.md:35":  CategoryLiveness,    // eventually converges after heal
	"docs/consistency.md:36":  CategoryMembership,  // joining node, quorum
	"docs/operations.md:6":    CategoryOperational, // rolling upgrades without downtime
	"docs/operations.md:7":    CategoryOperational, // restore never resurrects deleted keys
	"docs/replication.rst:8":  CategoryDurability,  // replicated to a majority before ack
	"docs/replication.rst:15": CategoryOrdering,    // followers apply in the leader's order
	"docs/recovery.adoc:4":    CategoryDurability,  // WAL replay before serving reads
	"docs/recovery.adoc:12":   CategoryPerformance, // recovery within 30 seconds
	// Code comments.
	"store/store.go:14":     CategorySafety,     // ErrStaleRead when a follower cannot prove currency
	"store/store.go:34":     CategorySafety,     // Get is linearizable
	"store/store.go:47":     CategoryDurability, // Put returns after fsync on a majority
	"replica/src/lib.rs:21": CategoryDurability, // appends are durable
	"gateway/src/main/java/dev/tidekv/gateway/LeaseExpiredException.java:5": CategorySafety,      // at most one lease holder
	"client/tidekv_client/retry.py:3":                                       CategoryIdempotency, // docstring: applied at most once
	"web/src/queue.ts:2":                                                    CategoryOrdering,    // flushed in submission order
	"native/wal.c:3":                                                        CategoryDurability,  // corrupted WAL record never applied
	// Error names (inferred). store/store.go:15 ErrStaleRead has the same
	// text as StaleReadError and is deduplicated into the earlier path.
	"client/tidekv_client/retry.py:14": CategorySafety,      // StaleReadError
	"replica/src/lib.rs:15":            CategoryIdempotency, // IdempotencyConflict
	"gateway/src/main/java/dev/tidekv/gateway/LeaseExpiredException.java:10": CategorySafety, // LeaseExpiredException
	"web/src/queue.ts:7": CategoryFairness, // QuotaExceededError
	// Test names (inferred).
	"store/store_test.go:5": CategorySafety,     // TestLinearizableUnderPartition
	"store/store_test.go:6": CategorySafety,     // t.Run("reads observe the latest write")
	"replica/src/lib.rs:33": CategoryDurability, // no_lost_writes_after_crash
	"gateway/src/test/java/dev/tidekv/gateway/GatewayTest.java:7": CategoryBoundary,    // rejectsRequestsFromUnauthorizedTenants
	"client/tests/test_client.py:1":                               CategoryIdempotency, // test_exactly_once_delivery
	"web/src/queue.test.ts:2":                                     CategoryDurability,  // it("never loses acknowledged writes")
	"native/wal_test.cc:3":                                        CategoryDurability,  // TEST(WalTest, RecoversFromTornWrite)
}

func extractFixture(t *testing.T, opts ClaimOptions) *ClaimReport {
	t.Helper()
	r, err := ExtractClaims(context.Background(), claimsRepo, opts)
	if err != nil {
		t.Fatalf("ExtractClaims: %v", err)
	}
	return r
}

func TestExtractClaimsPrecisionRecall(t *testing.T) {
	r := extractFixture(t, ClaimOptions{})
	if r.Truncated {
		t.Fatalf("Truncated = true (%s), want a complete scan", r.Reason)
	}
	// A second claim on an already matched line counts as a false positive.
	matched := 0
	seen := make(map[string]bool)
	for _, c := range r.Claims {
		want, ok := claimsTruth[c.Source]
		if !ok || seen[c.Source] {
			t.Logf("false positive: %s %s %q", c.Source, c.Category, c.Text)
			continue
		}
		seen[c.Source] = true
		matched++
		if c.Category != want {
			t.Errorf("%s: category %q, want %q (text %q, keywords %v)", c.Source, c.Category, want, c.Text, c.Keywords)
		}
	}
	found := make(map[string]bool)
	for _, c := range r.Claims {
		found[c.Source] = true
	}
	for src, cat := range claimsTruth {
		if !found[src] {
			t.Logf("missed: %s (%s)", src, cat)
		}
	}
	precision := float64(matched) / float64(max(len(r.Claims), 1))
	recall := float64(matched) / float64(len(claimsTruth))
	t.Logf("precision %.3f (%d of %d extracted), recall %.3f (%d of %d expected)",
		precision, matched, len(r.Claims), recall, matched, len(claimsTruth))
	if precision < 0.8 {
		t.Errorf("precision %.3f < 0.8", precision)
	}
	if recall < 0.8 {
		t.Errorf("recall %.3f < 0.8", recall)
	}
	categories := make(map[string]bool)
	for _, c := range r.Claims {
		if c.Kind == ClaimKindDoc {
			categories[c.Category] = true
		}
	}
	if len(categories) < 6 {
		t.Errorf("doc claims span %d categories, want ≥ 6", len(categories))
	}
}

func TestExtractClaimsFields(t *testing.T) {
	r := extractFixture(t, ClaimOptions{})
	byKind := make(map[string][]CandidateClaim)
	for _, c := range r.Claims {
		byKind[c.Kind] = append(byKind[c.Kind], c)
		if !slices.Contains(Categories, c.Category) {
			t.Errorf("%s: category %q is not a SPEC §2.3 category", c.Source, c.Category)
		}
		if c.Confidence <= 0 || c.Confidence > 1 {
			t.Errorf("%s: confidence %v outside (0, 1]", c.Source, c.Confidence)
		}
		if inferred := c.Kind == ClaimKindErrorName || c.Kind == ClaimKindTestName; c.Inferred != inferred {
			t.Errorf("%s: kind %s with Inferred = %v", c.Source, c.Kind, c.Inferred)
		}
		if len(c.Keywords) == 0 {
			t.Errorf("%s: no keywords", c.Source)
		}
	}
	for _, kind := range []string{ClaimKindDoc, ClaimKindComment, ClaimKindErrorName, ClaimKindTestName} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s claims", kind)
		}
	}
	// A doc statement with a guarantee word outranks every inferred name.
	var docGuarantee float64
	for _, c := range byKind[ClaimKindDoc] {
		if c.Source == "docs/consistency.md:8" { // "Clients never observe stale reads."
			docGuarantee = c.Confidence
		}
	}
	for _, kind := range []string{ClaimKindErrorName, ClaimKindTestName} {
		for _, c := range byKind[kind] {
			if c.Confidence >= docGuarantee {
				t.Errorf("%s (%s): confidence %v ≥ doc guarantee %v", c.Source, kind, c.Confidence, docGuarantee)
			}
		}
	}
	texts := map[string]string{
		"client/tidekv_client/retry.py:14":                            "stale read is detected and reported as an error",
		"store/store_test.go:5":                                       "linearizable under partition",
		"replica/src/lib.rs:33":                                       "no lost writes after crash",
		"web/src/queue.test.ts:2":                                     "never loses acknowledged writes",
		"docs/consistency.md:16":                                      "Scan: eventually consistent",
		"gateway/src/test/java/dev/tidekv/gateway/GatewayTest.java:7": "rejects requests from unauthorized tenants",
	}
	for _, c := range r.Claims {
		if want, ok := texts[c.Source]; ok && c.Text != want {
			t.Errorf("%s: text %q, want %q", c.Source, c.Text, want)
		}
	}
	// Identical texts are reported once: ErrStaleRead (store/store.go:15)
	// and StaleReadError say the same thing.
	n := 0
	for _, c := range r.Claims {
		if c.Text == "stale read is detected and reported as an error" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("stale-read error claim reported %d times, want 1", n)
	}
}

func TestExtractClaimsOrder(t *testing.T) {
	a := extractFixture(t, ClaimOptions{})
	b := extractFixture(t, ClaimOptions{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs over the same tree differ")
	}
	for i := 1; i < len(a.Claims); i++ {
		p0, l0 := splitSource(a.Claims[i-1].Source)
		p1, l1 := splitSource(a.Claims[i].Source)
		if p0 > p1 || (p0 == p1 && l0 > l1) {
			t.Errorf("claims out of order: %s before %s", a.Claims[i-1].Source, a.Claims[i].Source)
		}
	}
}

func TestExtractClaimsMissing(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  []CandidateMissing // Source, Kind and Behavior compared
	}{
		{
			name: "whole repo",
			want: []CandidateMissing{
				{Source: "client/tidekv_client/retry.py:10", Kind: MissingKindRetry, Behavior: "retries back off by 0.2 (BACKOFF_BASE_SECONDS)"},
				{Source: "gateway/src/main/java/dev/tidekv/gateway/LeaseExpiredException.java:11", Kind: MissingKindTimeout, Behavior: "renew gives up after 3_000 (RENEW_TIMEOUT_MS)"},
				{Source: "replica/src/lib.rs:15", Kind: MissingKindErrorType, Behavior: "idempotency conflict is detected and reported as an error (IdempotencyConflict)"},
				{Source: "web/src/queue.ts:5", Kind: MissingKindTimeout, Behavior: "request gives up after 30_000 (REQUEST_TIMEOUT_MS)"},
				{Source: "web/src/queue.ts:7", Kind: MissingKindErrorType, Behavior: "quota exceeded is detected and reported as an error (QuotaExceededError)"},
			},
		},
		{
			// MAX_APPEND_RETRIES is backed by a reStructuredText sentence
			// ("A replica retries a failed append up to five times").
			name:  "backed by an rst doc",
			paths: []string{"replica"},
			want: []CandidateMissing{
				{Source: "replica/src/lib.rs:15", Kind: MissingKindErrorType, Behavior: "idempotency conflict is detected and reported as an error (IdempotencyConflict)"},
			},
		},
		{
			// leaseTTL, electionTimeout and ErrStaleRead are backed by docs
			// outside the requested path, which are still consulted.
			name:  "backed constants and errors only",
			paths: []string{"store"},
		},
		{
			name:  "one file",
			paths: []string{"web/src/queue.ts"},
			want: []CandidateMissing{
				{Source: "web/src/queue.ts:5", Kind: MissingKindTimeout, Behavior: "request gives up after 30_000 (REQUEST_TIMEOUT_MS)"},
				{Source: "web/src/queue.ts:7", Kind: MissingKindErrorType, Behavior: "quota exceeded is detected and reported as an error (QuotaExceededError)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := extractFixture(t, ClaimOptions{Paths: tt.paths})
			var got []CandidateMissing
			for _, m := range r.Missing {
				if m.Evidence == "" || !strings.Contains(m.Evidence, m.Source) {
					t.Errorf("%s: evidence %q does not cite the source", m.Source, m.Evidence)
				}
				got = append(got, CandidateMissing{Source: m.Source, Kind: m.Kind, Behavior: m.Behavior})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("missing claims:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestExtractClaimsSkipsFixtureNoise(t *testing.T) {
	r := extractFixture(t, ClaimOptions{})
	skipped := []string{"vendor/", "node_modules/", "dist/", "store/zz_generated.go", "docs/legacy-notes.md"}
	for _, c := range r.Claims {
		if c.Source == "docs/replication.rst:6" || c.Source == "docs/recovery.adoc:8" || c.Source == "docs/replication.rst:13" {
			t.Errorf("claim from a directive, literal or listing block: %s %q", c.Source, c.Text)
		}
	}
	for _, c := range r.Claims {
		for _, s := range skipped {
			if strings.HasPrefix(c.Source, s) {
				t.Errorf("claim from skipped file: %s %q", c.Source, c.Text)
			}
		}
	}
	for _, m := range r.Missing {
		for _, s := range skipped {
			if strings.HasPrefix(m.Source, s) {
				t.Errorf("missing claim from skipped file: %s", m.Source)
			}
		}
	}
	// 16 files can be read: 3 Markdown, 1 reStructuredText and 1 AsciiDoc
	// doc, and 11 sources.
	if r.FilesScanned != 16 {
		t.Errorf("FilesScanned = %d, want 16", r.FilesScanned)
	}
}

// writeClaimTree creates files under dir; contents are written verbatim.
func writeClaimTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExtractClaimsSkipRules(t *testing.T) {
	const claim = "Acknowledged writes are never lost.\n"
	dir := t.TempDir()
	big := strings.Repeat("Filler line without any promise in it at all.\n", (maxClaimFileSize/46)+10) + claim
	writeClaimTree(t, dir, map[string]string{
		"kept.md":                  claim,
		"vendor/a.md":              claim,
		"node_modules/b/README.md": claim,
		"third_party/c.md":         claim,
		".git/d.md":                claim,
		"target/e.md":              claim,
		"dist/f.md":                claim,
		"build/g.md":               claim,
		"out/h.md":                 claim,
		"bin/i.md":                 claim,
		"big.md":                   big,
		"gen.go":                   "// Code generated by mockgen. DO NOT EDIT.\n\n// Writes are never lost.\npackage x\n",
		"blob.md":                  "Acknowledged\x00 writes are never lost.\n",
		"notes.txt":                claim,
		"sub/vendor_notes_kept.md": "Writes are always fsynced before they are acknowledged.\n",
	})
	outside := t.TempDir()
	writeClaimTree(t, outside, map[string]string{"leak.md": "Leaked writes are never lost.\n"})
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "leak.md"), filepath.Join(dir, "leak.md")); err != nil {
		t.Fatal(err)
	}
	r, err := ExtractClaims(context.Background(), dir, ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range r.Claims {
		got = append(got, c.Source)
	}
	want := []string{"kept.md:1", "sub/vendor_notes_kept.md:1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("claims from %v, want %v", got, want)
	}
	if r.FilesScanned != 2 {
		t.Errorf("FilesScanned = %d, want 2", r.FilesScanned)
	}
}

func TestExtractClaimsPaths(t *testing.T) {
	tests := []struct {
		paths   []string
		prefix  []string // every claim source starts with one of these
		minimum int
	}{
		{paths: []string{"store"}, prefix: []string{"store/"}, minimum: 5},
		{paths: []string{"docs/operations.md"}, prefix: []string{"docs/operations.md:"}, minimum: 2},
		{paths: []string{"./replica/../README.md", "web/"}, prefix: []string{"README.md:", "web/"}, minimum: 9},
		// A path given explicitly is scanned even inside a skipped directory.
		{paths: []string{"vendor/github.com/acme/fastlog/log.go"}, prefix: []string{"vendor/github.com/acme/fastlog/log.go:"}, minimum: 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.paths, ","), func(t *testing.T) {
			r := extractFixture(t, ClaimOptions{Paths: tt.paths})
			if len(r.Claims) < tt.minimum {
				t.Errorf("%d claims, want ≥ %d", len(r.Claims), tt.minimum)
			}
			for _, c := range r.Claims {
				ok := false
				for _, p := range tt.prefix {
					ok = ok || strings.HasPrefix(c.Source, p)
				}
				if !ok {
					t.Errorf("claim %s outside %v", c.Source, tt.paths)
				}
			}
		})
	}
}

func TestExtractClaimsRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	writeClaimTree(t, dir, map[string]string{"repo/a.md": "Writes are never lost.\n", "secret.md": "Secrets are never lost.\n"})
	root := filepath.Join(dir, "repo")
	if err := os.Symlink(dir, filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"..", "../secret.md", "a/../../secret.md", "/etc", filepath.Join(dir, "secret.md"), "", "up", "up/secret.md", "nope.md"} {
		t.Run(p, func(t *testing.T) {
			r, err := ExtractClaims(context.Background(), root, ClaimOptions{Paths: []string{"a.md", p}})
			if err == nil {
				t.Fatalf("paths %q accepted, report %+v", p, r)
			}
			if !strings.Contains(err.Error(), "paths[1]") {
				t.Errorf("error %q does not name the entry", err)
			}
		})
	}
	for _, root := range []string{"", filepath.Join(dir, "missing"), filepath.Join(dir, "secret.md")} {
		if _, err := ExtractClaims(context.Background(), root, ClaimOptions{}); err == nil {
			t.Errorf("root %q accepted", root)
		}
	}
}

func TestExtractClaimsPathThroughLink(t *testing.T) {
	dir := t.TempDir()
	writeClaimTree(t, dir, map[string]string{
		"docs/a.md":  "Acknowledged writes are never lost.\n",
		"other/b.md": "Reads are always linearizable.\n",
	})
	if err := os.Symlink(filepath.Join(dir, "docs"), filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	r, err := ExtractClaims(context.Background(), dir, ClaimOptions{Paths: []string{"alias"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := claimSources(r.Claims); !reflect.DeepEqual(got, []string{"docs/a.md:1"}) {
		t.Errorf("claims from %v, want [docs/a.md:1]", got)
	}
}

func TestExtractClaimsErlangElixirClojure(t *testing.T) {
	dir := t.TempDir()
	writeClaimTree(t, dir, map[string]string{
		"src/lease.erl": "%% A node never serves reads without a valid lease.\n" +
			"-define(LEASE_TTL, 5000).\n" +
			"-define(ELECTION_TIMEOUT, 1500). % ms\n" +
			"no_lost_writes_test() -> ok.\n",
		"lib/queue.ex": "defmodule Queue.StaleReadError do\n" +
			"  defexception message: \"stale read\"\n" +
			"end\n\n" +
			"defmodule Queue do\n" +
			"  @moduledoc \"\"\"\n" +
			"  Messages are delivered in FIFO order per partition.\n" +
			"  \"\"\"\n" +
			"  @ack_timeout 5_000\n" +
			"end\n",
		"test/queue_test.exs": "  test \"never loses acknowledged writes\" do\n  end\n",
		"src/check.clj": ";; A lock is held by at most one client at a time.\n" +
			"(def retry-backoff-ms 250)\n" +
			"(deftest linearizable-under-partition\n  (is true))\n",
	})
	r, err := ExtractClaims(context.Background(), dir, ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]string)
	for _, c := range r.Claims {
		got[c.Source] = c.Kind + " " + c.Category
	}
	want := map[string]string{
		"lib/queue.ex:1":        "error-name safety",
		"lib/queue.ex:7":        "comment ordering",
		"src/check.clj:1":       "comment safety",
		"src/check.clj:3":       "test-name safety",
		"src/lease.erl:1":       "comment safety",
		"src/lease.erl:4":       "test-name durability",
		"test/queue_test.exs:1": "test-name durability",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("claims:\n got %v\nwant %v", got, want)
	}
	var missing []string
	for _, m := range r.Missing {
		missing = append(missing, m.Source+" "+m.Kind+" "+m.Behavior)
	}
	wantMissing := []string{
		"lib/queue.ex:1 error-type stale read is detected and reported as an error (StaleReadError)",
		"lib/queue.ex:9 timeout-constant ack gives up after 5_000 (ack_timeout)",
		"src/check.clj:2 retry-constant retries back off by 250 (retry-backoff-ms)",
		"src/lease.erl:2 ttl-constant lease expires after 5000 (LEASE_TTL)",
		"src/lease.erl:3 timeout-constant election gives up after 1500 (ELECTION_TIMEOUT)",
	}
	if !reflect.DeepEqual(missing, wantMissing) {
		t.Errorf("missing:\n got %q\nwant %q", missing, wantMissing)
	}
}

func TestErrorAndTestNames(t *testing.T) {
	tests := []struct {
		file, src string
		want      []string // "line kind text"
	}{
		{"e.rs", "pub enum StoreError\n{\n    StaleRead,\n    #[error(\"x\")]\n    SplitBrain { term: u64 },\n    NotFound,\n}\nenum Other { Lost }\n",
			[]string{"3 error-name stale read is detected and reported as an error", "5 error-name split brain is detected and reported as an error"}},
		{"e.go", "type StaleReadError struct{}\nvar (\n\tErrLeaseExpired = errors.New(\"x\")\n)\nif err == ErrStaleRead {\n",
			[]string{"1 error-name stale read is detected and reported as an error", "3 error-name lease expired is detected and reported as an error"}},
		{"e.ts", "export class FencedWriteError extends Error {}\nclass Quiet extends HttpError {}\n",
			[]string{"1 error-name fenced write is detected and reported as an error"}},
		{"e.kt", "class DuplicateDeliveryException : RuntimeException()\n",
			[]string{"1 error-name duplicate delivery is detected and reported as an error"}},
		{"e.h", "#define ERR_QUORUM_LOST 7\nenum { ERR_IO = 1, };\n",
			[]string{"1 error-name quorum lost is detected and reported as an error"}},
		{"e.py", "class NotLeader(RuntimeError):\n    pass\nclass Unrelated(Base):\n    pass\n",
			[]string{"1 error-name not leader is detected and reported as an error"}},
		{"t_test.go", "func TestSnapshotIsolationHolds(t *testing.T) {\n\tt.Run(\"no_dirty_reads\", nil)\n}\nfunc TestHelp(t *testing.T) {}\n",
			[]string{"1 test-name snapshot isolation holds", "2 test-name no dirty reads"}},
		{"T.java", "@Test\n@Timeout(5)\npublic void fifoOrderPerPartition() {}\n@DisplayName(\"never double charges\")\n@Test void x() {}\n",
			[]string{"3 test-name fifo order per partition", "4 test-name never double charges"}},
		{"t.rs", "#[tokio::test]\nasync fn survives_leader_crash() {}\n",
			[]string{"2 test-name survives leader crash"}},
		{"t_test.py", "def test_idempotent_replay():\n    pass\ndef testHelper():\n    pass\n",
			[]string{"1 test-name idempotent replay"}},
		{"t.test.js", "test.only('tenants cannot read other tenants keys', () => {})\n",
			[]string{"1 test-name tenants cannot read other tenants keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			writeClaimTree(t, dir, map[string]string{tt.file: tt.src})
			r, err := ExtractClaims(context.Background(), dir, ClaimOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.Claims {
				_, line := splitSource(c.Source)
				got = append(got, strconv.Itoa(line)+" "+c.Kind+" "+c.Text)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestExtractClaimsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	r, err := ExtractClaims(ctx, claimsRepo, ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v after cancellation", d)
	}
	if !r.Truncated || !strings.Contains(r.Reason, "cancelled") {
		t.Errorf("Truncated = %v, Reason = %q; want truncated by cancellation", r.Truncated, r.Reason)
	}
	if len(r.Claims) != 0 || len(r.Missing) != 0 {
		t.Errorf("cancelled scan reported %d claims and %d missing; missing claims need every doc", len(r.Claims), len(r.Missing))
	}
}

func TestExtractClaimsBudget(t *testing.T) {
	r, err := ExtractClaims(context.Background(), claimsRepo, ClaimOptions{Budget: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || !strings.Contains(r.Reason, "budget") {
		t.Errorf("Truncated = %v, Reason = %q; want the budget named", r.Truncated, r.Reason)
	}
}

func TestExtractClaimsLimit(t *testing.T) {
	all := extractFixture(t, ClaimOptions{})
	r := extractFixture(t, ClaimOptions{Limit: 5})
	if len(r.Claims) != 5 {
		t.Fatalf("%d claims, want 5", len(r.Claims))
	}
	// The five kept are the most confident (0.9: doc sentences with a
	// guarantee word), earliest sources first, in path order.
	var want []CandidateClaim
	for _, c := range all.Claims {
		if c.Confidence == 0.9 && len(want) < 5 {
			want = append(want, c)
		}
	}
	if !reflect.DeepEqual(r.Claims, want) {
		t.Errorf("limited claims:\n got %v\nwant %v", claimSources(r.Claims), claimSources(want))
	}
	if !r.Truncated || !strings.Contains(r.Reason, "limit") {
		t.Errorf("Truncated = %v, Reason = %q; want the limit named", r.Truncated, r.Reason)
	}
}

func TestClassifySentences(t *testing.T) {
	x := &claimExtractor{lex: newClaimLexicons()}
	tests := []struct {
		text  string
		where proseContext
		want  string // category, "" for not a claim
	}{
		{"Committed transactions are strictly serializable.", inParagraph, CategoryIsolation},
		{"Tenant isolation: a tenant can only list keys in its own namespace.", inParagraph, CategoryBoundary},
		{"Every produced message is consumed in FIFO order per partition.", inParagraph, CategoryOrdering},
		{"Leader election completes within 5 seconds of a node failure.", inParagraph, CategoryPerformance},
		{"The p99 write latency stays under 20ms.", inParagraph, CategoryPerformance},
		{"Consumers never see a message twice; delivery is exactly-once.", inParagraph, CategoryIdempotency},
		{"Data is fsynced before the write is acknowledged.", inParagraph, CategoryDurability},
		{"The cluster remains available while a minority of nodes is down.", inParagraph, CategoryLiveness},
		{"No tenant can starve another tenant of disk bandwidth.", inParagraph, CategoryFairness},
		{"Nodes that leave are removed from membership within one gossip round.", inParagraph, CategoryMembership},
		{"Rolling upgrades never require downtime.", inParagraph, CategoryOperational},
		{"Mutual exclusion holds: at most one client holds the lock.", inComment, CategorySafety},
		{"Durable, linearizable writes", inHeading, ""},
		{"Install the durable queue with `go install`.", inParagraph, ""},
		{"You must run the migration before upgrading.", inParagraph, ""},
		{"Is the log durable after a crash?", inParagraph, ""},
		{"THE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY THAT DATA IS NEVER LOST.", inParagraph, ""},
		{"The fastest, most scalable, highly available store on the planet.", inParagraph, ""},
		{"Callers must hold the lock.", inComment, ""},
		{"Retries: always use an idempotency key.", inList, ""},
		{"Always validate tenant ids before routing.", inParagraph, ""},
		{"Always returns the latest committed write.", inParagraph, CategorySafety},
		{"TODO: make this linearizable.", inComment, ""},
		{"Reads are served by the leader.", inParagraph, ""},
		{"The project was started in 2019.", inParagraph, ""},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			cat, _, kws, ok := x.proseClaim(tt.text, tt.where)
			if !ok {
				cat = ""
			}
			if cat != tt.want {
				t.Errorf("category %q (keywords %v), want %q", cat, kws, tt.want)
			}
		})
	}
}

func TestIdentWords(t *testing.T) {
	tests := map[string]string{
		"TestLinearizableUnderPartition": "test linearizable under partition",
		"test_exactly_once_delivery":     "test exactly once delivery",
		"leaseTTL":                       "lease ttl",
		"MAX_RETRIES":                    "max retries",
		"HTTPServerError":                "http server error",
		"LatencyP99Under10ms":            "latency p99 under 10 ms",
		"G2Item":                         "g2 item",
	}
	for in, want := range tests {
		if got := strings.Join(identWords(in), " "); got != want {
			t.Errorf("identWords(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSentenceSpans(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Writes are durable. Reads are linearizable!", []string{"Writes are durable.", "Reads are linearizable!"}},
		{"Use e.g. fsync. Keys expire after 1.5 s.", []string{"Use e.g. fsync.", "Keys expire after 1.5 s."}},
		{"Version v1.2 is current.  Next line", []string{"Version v1.2 is current.", "Next line"}},
	}
	for _, tt := range tests {
		var got []string
		for _, sp := range sentenceSpans(tt.in) {
			got = append(got, tt.in[sp.start:sp.end])
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("sentenceSpans(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommentLines(t *testing.T) {
	tests := []struct {
		lang *sourceLang
		src  string
		want []string // "line:text" of non-empty comment lines
	}{
		{langGo, "s := \"// no\" // yes\nr := `/* no */`\n/* block\n * two */\n", []string{"1:yes", "3:block", "4:two"}},
		{langRust, "fn f<'a>(x: &'a str) { let c = '/'; } // yes\nlet r = r#\"// no\"#;\n/// doc\n", []string{"1:yes", "3:doc"}},
		{langPython, "def f():\n    \"\"\"Doc line.\n\n    More.\n    \"\"\"\n    x = \"# no\"  # yes\n    y = '''# no'''\n", []string{"2:Doc line.", "4:More.", "6:yes"}},
		{langJS, "const s = `// no ${x}`; // yes\n/** jsdoc\n * @param n the count\n */\n", []string{"1:yes", "2:jsdoc", "3:the count"}},
		{langGo, "//go:build linux\n// Real text.\n//\texample()\n", []string{"2:Real text."}},
		{langErlang, "X = \"% no\", %% yes\n", []string{"1:yes"}},
		{langElixir, "@doc \"\"\"\nDoc.\n\"\"\"\nx = \"\"\"\nno\n\"\"\"\n# yes\n", []string{"2:Doc.", "7:yes"}},
		{langClj, "(str \";no\") ;; yes\n(quote 'a) ; also\n", []string{"1:yes", "2:also"}},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range commentLines([]byte(tt.src), tt.lang) {
			if l.text != "" {
				got = append(got, strconv.Itoa(l.line)+":"+l.text)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %q:\n got %q\nwant %q", tt.lang.name, tt.src, got, tt.want)
		}
	}
}

// TestClassifyHeldOut measures the classifier on sentences paraphrased from
// real systems' documentation, written after the lexicon. Its first run
// scored 30 of 32; the two misses led to "losing" in the lexicon and to
// ranking categories by their heaviest phrase. It asserts the accuracy
// floor and logs each miss.
func TestClassifyHeldOut(t *testing.T) {
	x := &claimExtractor{lex: newClaimLexicons()}
	tests := []struct {
		text string
		want string // "" for not a claim
	}{
		{"etcd ensures linearizability for all operations by default.", CategorySafety},
		{"Messages sent by a producer to a topic partition are appended in the order they are sent.", CategoryOrdering},
		{"A consumer sees records in the order they are stored in the log.", CategoryOrdering},
		{"With replication factor N we tolerate N-1 server failures without losing any committed record.", CategoryDurability},
		{"CockroachDB guarantees serializable SQL transactions, the highest isolation level in the SQL standard.", CategoryIsolation},
		{"Once a transaction commits, its writes are durable even if a minority of replicas fail.", CategoryDurability},
		{"FIFO queues provide exactly-once processing.", CategoryIdempotency},
		{"Each message is delivered at least once, and occasionally more than one copy is delivered.", CategoryIdempotency},
		{"Requests from one tenant cannot read data that belongs to another tenant.", CategoryBoundary},
		{"A new leader is elected within 10 seconds after the previous leader fails.", CategoryPerformance},
		{"New nodes can join the cluster without interrupting client traffic.", CategoryMembership},
		{"Each tenant receives a weighted fair share of the cluster's I/O capacity.", CategoryFairness},
		{"After a network partition heals, all replicas eventually converge to the same state.", CategoryLiveness},
		{"The p95 end-to-end latency is below 250 ms at 10k requests per second.", CategoryPerformance},
		{"Upgrades between adjacent minor versions can be performed one node at a time.", CategoryOperational},
		{"A retried payment with the same idempotency key is never charged twice.", CategoryIdempotency},
		{"Only users with the admin role are authorized to delete a namespace.", CategoryBoundary},
		{"The lock service guarantees that no two clients hold the same lock at once.", CategorySafety},
		{"To get started, download the latest release from the releases page.", ""},
		{"We welcome contributions from the community.", ""},
		{"The architecture is described in the design document.", ""},
		{"This project is sponsored by the CNCF.", ""},
		{"Run the tests with `make test` before sending a patch.", ""},
		{"Note that the default configuration is not suitable for production.", ""},
		{"Kafka was originally developed at LinkedIn.", ""},
		{"Copyright (c) 2023 The Authors.", ""},
		{"How does replication work under partitions?", ""},
		{"The leader handles all client requests.", ""},
		{"Benchmarks were run on a laptop with 16 GB of RAM.", ""},
		{"A transaction is a group of operations.", ""},
		{"Follow us on Twitter for updates.", ""},
		{"The `--timeout` flag sets the request timeout in seconds.", ""},
	}
	right := 0
	for _, tt := range tests {
		cat, _, kws, ok := x.proseClaim(tt.text, inParagraph)
		if !ok {
			cat = ""
		}
		if cat == tt.want {
			right++
			continue
		}
		t.Logf("miss: %q: got %q (keywords %v), want %q", tt.text, cat, kws, tt.want)
	}
	acc := float64(right) / float64(len(tests))
	t.Logf("held-out accuracy %.3f (%d of %d)", acc, right, len(tests))
	if acc < 0.8 {
		t.Errorf("held-out accuracy %.3f < 0.8", acc)
	}
}

func claimSources(cs []CandidateClaim) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Source)
	}
	return out
}

// FuzzScanSource feeds arbitrary bytes to every language scanner and to the
// Markdown scanner: none may panic, and every claim must point at a line
// of the input.
func FuzzScanSource(f *testing.F) {
	for _, seed := range []string{
		"", "'", "\"", "`", "/*", "r#\"", "r#", "'''", "\"\"\"", "//", "#", "/**/",
		"x = '\\", "enum Error {\n  Stale", "#[test]\nfn", "@Test\n", "it(\"never", "TEST(",
		"| a | guarantee |\n|---|---|\n| b |", "- Writes are never lost.\n\n```\n",
		"const (\nleaseTTL = 1\n", "class E(Exception", "/* Writes are always durable. ",
		"Title\n=====\n\n.. note::\n\n   x\n", "----\nWrites are never lost.\n", "- a\n  b::\n\n    c\n",
	} {
		f.Add([]byte(seed))
	}
	langs := []*sourceLang{langGo, langRust, langJava, langPython, langJS, langC}
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := strings.Count(string(src), "\n") + 1
		x := &claimExtractor{ctx: context.Background(), lex: newClaimLexicons(), md: newClaimMarkdown(), report: &ClaimReport{}}
		for _, lang := range langs {
			x.scanSource(claimFile{rel: "f", lang: lang}, src)
		}
		x.scanMarkdown(claimFile{rel: "f.md", markdown: true}, src, true)
		x.scanPlainDoc(claimFile{rel: "f.rst", markdown: true, plain: true}, src, true)
		x.scanPlainDoc(claimFile{rel: "f.adoc", markdown: true, plain: true}, src, true)
		for _, c := range x.claims {
			if c.line < 1 || c.line > lines {
				t.Fatalf("claim %q at line %d of a %d-line input", c.claim.Text, c.line, lines)
			}
		}
	})
}

// secondRepo is a second, smaller repository (a message queue) written
// after the lexicon, with its ground truth, to measure how extraction
// generalises beyond testdata/claimsrepo. On its first run it scored
// precision 0.92 and recall 0.71; the misses led to general rules (long
// sentences with a strong keyword, several medium keywords together, test
// names with a negation) and vocabulary ("strictly increasing", "survives
// the loss", "keeps accepting"), so it is no longer unseen data.
var secondRepo = map[string]string{
	"README.md": `# ripplemq

ripplemq is a partitioned, replicated message queue written in Go.
Thousands of teams run ripplemq in production every day.

## Delivery semantics

- Within a partition, consumers receive messages in the order producers appended them.
- A message acknowledged by the broker survives the loss of any single broker.
- Consumer groups get at-least-once delivery; enable transactions for exactly-once processing.
- Producers that set ` + "`enable.idempotence=true`" + ` never write duplicates, even when they retry.

## Availability

The cluster keeps accepting writes as long as a majority of replicas for each partition is reachable.
If the partition leader fails, a new leader takes over within 15 seconds.

## Multi-tenancy

Topics are grouped into tenants, and a client can only see topics in the tenants its token is authorized for.
Per-tenant quotas keep one busy tenant from starving the others.

## Getting started

Download the latest binary from the releases page.
Start a single broker with ` + "`ripplemq serve --data ./data`" + `.
Our Slack community is the best place to ask questions.

## License

ripplemq is released under the MIT License.
`,
	"docs/semantics.md": `# Semantics

This document describes what ripplemq promises and what it does not.

## Offsets

Offsets within a partition are assigned by the leader and are strictly increasing.
A committed offset is never rolled back after a leader change.

## Transactions

Transactional reads never observe the writes of an aborted transaction.
Consumers running with ` + "`isolation.level=read_committed`" + ` skip messages from open transactions.

## Retention

Messages are deleted after the retention period, which defaults to seven days.

The diagram below shows the write path.

| Config | Default | Description |
|---|---|---|
| ` + "`replica.lag.max.ms`" + ` | 30000 | How long a follower may lag before it is removed from the ISR. |
`,
	"broker/log.go": `package broker

import "errors"

// ErrFencedProducer is returned when a newer producer with the same
// transactional id has taken over.
var ErrFencedProducer = errors.New("producer fenced")

// ErrOffsetOutOfRange is returned for reads past the log end.
var ErrOffsetOutOfRange = errors.New("offset out of range")

const sessionTimeout = 45 * time.Second

// Append writes batch to the segment and fsyncs it before returning.
func Append() {}
`,
	"broker/log_test.go": `package broker

func TestNoDuplicatesAfterProducerRetry(t *testing.T) {}
func TestFetchReturnsRecords(t *testing.T) {}
func TestOrderingWithinPartition(t *testing.T) {}
`,
}

var secondTruth = map[string]string{
	"README.md:8":          CategoryOrdering,
	"README.md:9":          CategoryDurability,
	"README.md:10":         CategoryIdempotency,
	"README.md:11":         CategoryIdempotency,
	"README.md:15":         CategoryLiveness,
	"README.md:16":         CategoryPerformance,
	"README.md:20":         CategoryBoundary,
	"README.md:21":         CategoryFairness,
	"docs/semantics.md:7":  CategoryOrdering,
	"docs/semantics.md:8":  CategoryDurability,
	"docs/semantics.md:12": CategoryIsolation,
	"docs/semantics.md:13": CategoryIsolation,
	"broker/log.go:5":      CategorySafety,
	"broker/log.go:7":      CategorySafety,
	"broker/log.go:14":     CategoryDurability,
	"broker/log_test.go:3": CategoryIdempotency,
	"broker/log_test.go:5": CategoryOrdering,
}

func TestExtractClaimsSecondRepo(t *testing.T) {
	dir := t.TempDir()
	writeClaimTree(t, dir, secondRepo)
	r, err := ExtractClaims(context.Background(), dir, ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	matched, rightCategory := 0, 0
	seen := make(map[string]bool)
	for _, c := range r.Claims {
		want, ok := secondTruth[c.Source]
		if !ok || seen[c.Source] {
			t.Logf("false positive: %s %s %q", c.Source, c.Category, c.Text)
			continue
		}
		seen[c.Source] = true
		matched++
		if c.Category == want {
			rightCategory++
		} else {
			t.Logf("category: %s %q got %s, want %s", c.Source, c.Text, c.Category, want)
		}
	}
	found := make(map[string]bool)
	for _, c := range r.Claims {
		found[c.Source] = true
	}
	for src, cat := range secondTruth {
		if !found[src] {
			t.Logf("missed: %s (%s)", src, cat)
		}
	}
	precision := float64(matched) / float64(max(len(r.Claims), 1))
	recall := float64(matched) / float64(len(secondTruth))
	t.Logf("second repo: precision %.3f (%d of %d), recall %.3f (%d of %d), categories right %d of %d",
		precision, matched, len(r.Claims), recall, matched, len(secondTruth), rightCategory, matched)
	if precision < 0.8 || recall < 0.8 {
		t.Errorf("precision %.3f, recall %.3f: want both ≥ 0.8", precision, recall)
	}
	var missing []string
	for _, m := range r.Missing {
		missing = append(missing, m.Source+" "+m.Kind)
	}
	if want := []string{"broker/log.go:7 error-type", "broker/log.go:12 timeout-constant"}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing %v, want %v", missing, want)
	}
}

// TestClassifyUnseen is a last set of sentences, paraphrased from public
// docs of other systems, added after all tuning and never tuned against.
// The floor (0.75) was fixed before its first run; misses are logged.
func TestClassifyUnseen(t *testing.T) {
	x := &claimExtractor{lex: newClaimLexicons()}
	tests := []struct {
		text string
		want string
	}{
		{"ZooKeeper guarantees that updates from a client are applied in the order they were sent.", CategoryOrdering},
		{"Once an update has been applied, it persists until a client overwrites it.", CategoryDurability},
		{"A client sees the same view of the service regardless of the server it connects to.", CategorySafety},
		{"Lightweight transactions provide linearizable consistency for a single partition.", CategorySafety},
		{"NATS JetStream provides exactly-once semantics with message deduplication and double acks.", CategoryIdempotency},
		{"FoundationDB transactions are strictly serializable.", CategoryIsolation},
		{"Writes with majority write concern are not rolled back after a primary failover.", CategoryDurability},
		{"Consul servers elect a leader through the Raft protocol and need a quorum of servers to make progress.", CategoryMembership},
		{"TiKV uses the Percolator model to provide snapshot isolation for distributed transactions.", CategoryIsolation},
		{"Each namespace is isolated, so a job in one namespace cannot access secrets in another.", CategoryBoundary},
		{"The scheduler shares cluster resources fairly between queues according to their weights.", CategoryFairness},
		{"The median produce latency is under 5 ms with the default settings.", CategoryPerformance},
		{"A node that loses its lease steps down before a new leader can be elected.", CategorySafety},
		{"Clusters can be upgraded to the next minor version without downtime.", CategoryOperational},
		{"Join our mailing list to hear about new releases.", ""},
		{"The default port is 2181.", ""},
		{"This chapter covers installation on Linux and macOS.", ""},
		{"Redis is an in-memory data structure store used as a database and cache.", ""},
		{"Use the admin API to inspect the state of each partition.", ""},
		{"Many companies rely on Cassandra for their most critical workloads.", ""},
	}
	right := 0
	for _, tt := range tests {
		cat, _, kws, ok := x.proseClaim(tt.text, inParagraph)
		if !ok {
			cat = ""
		}
		if cat == tt.want {
			right++
			continue
		}
		t.Logf("miss: %q: got %q (keywords %v), want %q", tt.text, cat, kws, tt.want)
	}
	acc := float64(right) / float64(len(tests))
	t.Logf("unseen accuracy %.3f (%d of %d)", acc, right, len(tests))
	if acc < 0.75 {
		t.Errorf("unseen accuracy %.3f < 0.75", acc)
	}
}
