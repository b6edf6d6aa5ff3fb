#!/usr/bin/env bash
# inspector-check.sh drives falsify with the MCP Inspector CLI
# (npm @modelcontextprotocol/inspector), an MCP client nobody on the falsify
# team wrote, over stdio and over streamable HTTP:
#
#   1. tools/list --strict: the Inspector's schema portability lint must
#      report no error (it exits 6 on one), no type union and no remote
#      $ref; the only warnings accepted are untyped "any JSON value"
#      properties named in ANY_VALUE below (input, output, data, witness).
#      Every expected tool is listed with an object input schema, an
#      output schema and all four annotation hints.
#   2. tools/call lint_plan on a copy of e2e/testdata/kvstore.md, in the
#      legacy and the modern protocol era: clean, with the plan's counts,
#      and structuredContent equal to the JSON text copy.
#   3. tools/call lint_plan on a plan that does not exist: isError (the
#      Inspector exits 5) with a message naming the argument.
#   4. Over streamable HTTP (falsify serve --http 127.0.0.1:0): tools/list
#      --strict again, and resources/read of the plan.
#
# Usage: scripts/inspector-check.sh
# Environment: FALSIFY_BIN, when set, is the falsify binary to check
# (otherwise one is built from this checkout).
# Exit status: 0 when every check passed, 1 when one failed, 3 when the
# Inspector could not be fetched (npx failed before reaching falsify).
# Needs npx and node; the first run downloads the pinned Inspector (~15 s).
set -euo pipefail

# The pinned Inspector. It declares node >= 22.19; npm warns EBADENGINE on
# Node 20 and the CLI works there.
readonly INSPECTOR_VERSION=2.12.0
readonly INSPECTOR="@modelcontextprotocol/inspector@${INSPECTOR_VERSION}"

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "inspector-check: FAIL: $*" >&2
	exit 1
}

# Keep the Inspector's catalog and client config out of $HOME.
export MCP_CATALOG_PATH="$work/inspector-catalog.json"
export MCP_CLIENT_CONFIG_PATH="$work/inspector-client.json"

# npx fetches the pinned Inspector once (into npm's cache); the checks then
# run its bin directly, which saves npm's resolution on every call.
echo "inspector-check: fetching $INSPECTOR"
if ! inspector_bin=$(npx -y --package="$INSPECTOR" -- sh -c 'command -v mcp-inspector' 2>"$work/fetch.err") || [ -z "$inspector_bin" ]; then
	cat "$work/fetch.err" >&2
	echo "inspector-check: cannot run $INSPECTOR with npx (offline?)" >&2
	exit 3
fi
got=$("$inspector_bin" --version 2>&1) || fail "$inspector_bin --version: $got"
case "$got" in
*"$INSPECTOR_VERSION"*) ;;
*) fail "npx installed Inspector version '$got', want $INSPECTOR_VERSION" ;;
esac

inspector() {
	"$inspector_bin" --cli "$@"
}

bin=${FALSIFY_BIN:-}
if [ -z "$bin" ]; then
	echo "inspector-check: building falsify"
	(cd "$root" && go build -o "$work/falsify" ./cmd/falsify)
	bin="$work/falsify"
fi
[ -x "$bin" ] || fail "falsify binary $bin is not executable"

ws="$work/ws"
mkdir -p "$ws/testing-plans"
cp "$root/e2e/testdata/kvstore.md" "$ws/testing-plans/kvr-replication.md"

# check.mjs asserts on the Inspector's JSON output (--format json).
cat >"$work/check.mjs" <<'EOF'
import fs from "node:fs";
import { isDeepStrictEqual } from "node:util";

const TOOLS = ["assign_verdict", "extract_claims", "heal_fault", "import_history", "inject_fault",
  "lint_plan", "measure_fault", "record_op", "record_state", "run_checker", "start_run",
  "start_session", "write_plan_section"];
// Properties that hold any JSON value by design — an op's input and
// output (SPEC §3.1), a recorded state's data, a checker's witness — are
// the only untyped schemas accepted, wherever they appear.
const ANY_VALUE = new Set(["input", "output", "data", "witness"]);
const anyValue = (path) => /(^|\.)properties\.([a-z_]+)$/.test(path) && ANY_VALUE.has(path.split(".").pop());
const HINTS = ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"];

const [cmd, file] = process.argv.slice(2);
const problems = [];
const problem = (msg) => problems.push(msg);
const read = () => JSON.parse(fs.readFileSync(file, "utf8"));

function hasTypeArray(node) {
  if (Array.isArray(node)) return node.some(hasTypeArray);
  if (node === null || typeof node !== "object") return false;
  return Object.entries(node).some(([k, v]) => (k === "type" && Array.isArray(v)) || hasTypeArray(v));
}

function toolResult(env) {
  const r = env.result;
  if (!r) return problem("no result in " + JSON.stringify(env).slice(0, 300));
  const text = (r.content || []).filter((c) => c.type === "text").map((c) => c.text).join("");
  if (r.structuredContent === undefined) problem("no structuredContent");
  let copy;
  try { copy = JSON.parse(text); } catch { problem("text content is not JSON: " + text.slice(0, 200)); }
  if (copy !== undefined && !isDeepStrictEqual(copy, r.structuredContent)) problem("structuredContent differs from its JSON text copy");
  return r;
}

switch (cmd) {
case "list": {
  const env = read();
  const tools = env.result?.tools ?? [];
  const names = tools.map((t) => t.name);
  for (const want of TOOLS) if (!names.includes(want)) problem(`tool ${want} not listed`);
  for (const t of tools) {
    if (t.inputSchema?.type !== "object") problem(`${t.name}: inputSchema type is ${JSON.stringify(t.inputSchema?.type)}, want "object"`);
    if (!t.outputSchema || typeof t.outputSchema !== "object") problem(`${t.name}: no outputSchema`);
    if (hasTypeArray([t.inputSchema, t.outputSchema])) problem(`${t.name}: a schema has a "type" array`);
    for (const h of HINTS) if (typeof t.annotations?.[h] !== "boolean") problem(`${t.name}: annotation ${h} not set`);
    if (!t.annotations?.title) problem(`${t.name}: no annotation title`);
  }
  let accepted = 0;
  for (const { toolName, findings } of env.schemaFindings ?? []) {
    for (const f of findings) {
      const where = `${toolName} ${f.schema} ${f.path}`;
      if (f.rule === "untyped-schema" && f.severity === "warning" && anyValue(f.path)) { accepted++; continue; }
      problem(`schema portability ${f.severity} ${f.rule} at ${where}: ${f.issue}`);
    }
  }
  if (problems.length === 0) console.log(`  ok: ${tools.length} tools, input+output schemas and 4 hints each, no type arrays; --strict: 0 errors, ${accepted} accepted any-value warnings`);
  break;
}
case "lint": {
  const r = toolResult(read());
  const s = r?.structuredContent ?? {};
  if (r?.isError) problem("lint_plan returned isError");
  if (s.clean !== true || (s.errors ?? []).length !== 0) problem(`lint_plan not clean: ${JSON.stringify(s.errors)}`);
  if (s.path !== "testing-plans/kvr-replication.md") problem(`lint_plan path ${s.path}`);
  const sum = s.summary ?? {};
  const want = { claims: 7, hypotheses: 7, scenarios: 5, arms: 2 };
  for (const [k, v] of Object.entries(want)) if (sum[k] !== v) problem(`summary.${k} = ${sum[k]}, want ${v}`);
  if (problems.length === 0) console.log("  ok: lint_plan clean (7 claims, 7 hypotheses, 5 scenarios, 2 arms), structuredContent = JSON text copy");
  break;
}
case "refused": {
  const r = read().result ?? {};
  const text = (r.content ?? []).map((c) => c.text ?? "").join("");
  if (r.isError !== true) problem("lint_plan on a missing plan did not return isError");
  if (!text.includes('argument "plan"')) problem(`isError text does not name the argument: ${text}`);
  if (problems.length === 0) console.log(`  ok: isError naming the argument: ${text.slice(0, 80)}…`);
  break;
}
case "plan": {
  const c = read().result?.contents?.[0] ?? {};
  const want = fs.readFileSync(process.argv[4], "utf8");
  if (c.uri !== "falsify://plans/kvr-replication" || c.mimeType !== "text/markdown" || c.text !== want) problem(`plan resource: ${JSON.stringify(c).slice(0, 200)}`);
  if (problems.length === 0) console.log(`  ok: falsify://plans/kvr-replication is the plan file (${want.length} bytes, text/markdown)`);
  break;
}
case "endpoint": {
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    try { const j = JSON.parse(line); if (j.message === "MCP endpoint" && j.url) { console.log(j.url); process.exit(0); } } catch {}
  }
  process.exit(1);
}
default:
  problem("unknown check " + cmd);
}
if (problems.length > 0) {
  for (const p of problems) console.error("  " + p);
  process.exit(1);
}
EOF

check() { node "$work/check.mjs" "$@"; }

# run_inspector NAME WANT_STATUS ARGS... runs the Inspector with JSON output
# into $work/NAME.json and fails unless it exits WANT_STATUS.
run_inspector() {
	local name=$1 want=$2 status=0
	shift 2
	inspector "$@" --format json -q >"$work/$name.json" 2>"$work/$name.err" || status=$?
	if [ "$status" -ne "$want" ]; then
		grep -v EBADENGINE "$work/$name.err" >&2 || true
		head -c 2000 "$work/$name.json" >&2 || true
		[ "$status" -eq 6 ] && fail "$name: the Inspector found schema portability errors (--strict exit 6)"
		fail "$name: the Inspector exited $status, want $want"
	fi
}

stdio=("$bin" serve --root "$ws")

echo "inspector-check: stdio: tools/list --strict"
run_inspector list 0 "${stdio[@]}" --method tools/list --strict
check list "$work/list.json" || fail "tools/list over stdio"

# The Inspector negotiates the legacy protocol era with an ad-hoc target
# by default; the call is made in the modern era (2026-07-28) too.
for era in legacy modern; do
	echo "inspector-check: stdio ($era protocol era): tools/call lint_plan plan=kvr-replication"
	run_inspector "lint-$era" 0 "${stdio[@]}" --protocol-era "$era" --method tools/call --tool-name lint_plan --tool-arg plan=kvr-replication
	check lint "$work/lint-$era.json" || fail "tools/call lint_plan ($era protocol era)"
done

echo "inspector-check: stdio: tools/call lint_plan plan=no-such-plan (isError expected)"
run_inspector refused 5 "${stdio[@]}" --method tools/call --tool-name lint_plan --tool-arg plan=no-such-plan
check refused "$work/refused.json" || fail "tools/call lint_plan on a missing plan"

echo "inspector-check: streamable HTTP: falsify serve --http 127.0.0.1:0"
"$bin" serve --http 127.0.0.1:0 --root "$ws" 2>"$work/http.log" &
server_pid=$!
url=""
for _ in $(seq 1 300); do
	if url=$(check endpoint "$work/http.log"); then
		break
	fi
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/http.log" >&2; fail "falsify serve --http exited before listening"; }
	sleep 0.1
done
[ -n "$url" ] || { cat "$work/http.log" >&2; fail "falsify serve --http announced no endpoint within 30 s"; }
echo "inspector-check: $url: tools/list --strict"
run_inspector http-list 0 "$url" --transport http --method tools/list --strict
check list "$work/http-list.json" || fail "tools/list over streamable HTTP"
echo "inspector-check: $url: resources/read falsify://plans/kvr-replication"
run_inspector http-plan 0 "$url" --transport http --method resources/read --uri falsify://plans/kvr-replication
check plan "$work/http-plan.json" "$ws/testing-plans/kvr-replication.md" || fail "resources/read over streamable HTTP"
kill "$server_pid"
wait "$server_pid" || fail "falsify serve --http did not exit cleanly on SIGTERM"
server_pid=""

echo "inspector-check: OK ($INSPECTOR, node $(node --version))"
