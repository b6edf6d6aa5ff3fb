package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/parser"
)

func invariant() *Checker {
	return &Checker{
		Name:   "final-state-invariant",
		Models: slices.Clone(anyModel),
		Needs:  needsFor(anyModel),
		Check:  checkInvariant,
	}
}

const invariantScope = "the declared predicate over each recorded final state at quiescence; cannot detect a " +
	"violation the predicate does not express, a transient violation that healed before the final state was " +
	"read, or anything about the history itself (the ops are not consulted)"

// invariantWitness is the evidence for a false predicate.
type invariantWitness struct {
	State     string         `json:"state"`
	Predicate string         `json:"predicate"`
	Failing   []string       `json:"failing_conjuncts,omitempty"`
	Values    map[string]any `json:"values,omitempty"` // the state's top-level fields the predicate reads
}

// celIdent matches the names CEL accepts as variables.
var celIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// celReserved are names a state field cannot be exposed under.
var celReserved = map[string]bool{
	"state": true, "true": true, "false": true, "null": true, "in": true, "as": true, "break": true, "const": true,
	"continue": true, "else": true, "for": true, "function": true, "if": true, "import": true, "let": true, "loop": true,
	"package": true, "namespace": true, "return": true, "var": true, "void": true, "while": true,
	"int": true, "uint": true, "double": true, "bool": true, "string": true, "bytes": true, "list": true, "map": true,
	"type": true, "null_type": true, "dyn": true, "has": true, "size": true, "sum": true,
}

// checkInvariant evaluates a CEL predicate over each final state.
//
// Options: "predicate" (required: a CEL expression that must be true;
// the state is the variable state, and when it is a JSON object each of
// its top-level fields whose name is an identifier is also a variable;
// sum(list or map) adds numbers, e.g. "sum(balances) == 0"; the standard
// macros (all, exists, exists_one, map, filter) and cel-go's math, lists,
// sets and strings extensions are available, e.g. math.greatest(loads) or
// sets.contains(members, ["n1"])), "state"
// (the name of the final state to judge; default every final state),
// "quiescent" (true, or a recorded State named "quiescence", is required:
// without it the result is unknown).
func checkInvariant(ctx context.Context, in Input) (*Result, error) {
	const name = "final-state-invariant"
	if err := checkModel(name, anyModel, in.Model); err != nil {
		return nil, err
	}
	predicate, err := stringOption(in.Options, "predicate", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if strings.TrimSpace(predicate) == "" {
		return nil, fmt.Errorf("%s: option predicate is required: a CEL expression over the final state, e.g. \"sum(balances) == 0\"", name)
	}
	only, err := stringOption(in.Options, "state", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	quiescent, err := quiescence(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, invariantScope)
	var finals []State
	for _, s := range statesOf(in.States, StateFinal) {
		if only == "" || s.Name == only {
			finals = append(finals, s)
		}
	}
	// The predicate must parse even when no verdict can be given.
	parsed, err := compileInvariant(predicate, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !quiescent {
		return undecided(res, "quiescence undefined: the final state is only meaningful once nothing is in flight and the system has converged (set option quiescent to true, or record a State named \"quiescence\")"), nil
	}
	if len(finals) == 0 {
		res.Missing = []string{StateFinal}
		what := "no final-state was recorded (record_state kind final-state)"
		if only != "" {
			what = fmt.Sprintf("no final-state named %q was recorded", only)
		}
		return undecided(res, what), nil
	}
	holds := 0
	for _, st := range finals {
		if ctx.Err() != nil {
			return halted(res, ctx), nil
		}
		state, err := decodeState(st.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: final state %q: %w", name, st.Name, err)
		}
		// The state's top-level fields the predicate names become
		// variables (only those: a state may have many fields).
		vars := map[string]any{"state": state}
		if obj, ok := state.(map[string]any); ok {
			for _, k := range parsed.idents {
				if v, ok := obj[k]; ok && celIdent.MatchString(k) && !celReserved[k] {
					vars[k] = v
				}
			}
		}
		prg, err := compileInvariant(predicate, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: final state %q: %w", name, st.Name, err)
		}
		ok, evalErr := evalBool(prg.program, vars)
		if evalErr != nil {
			return undecided(res, fmt.Sprintf("the predicate could not be evaluated on final state %q: %v", st.Name, evalErr)), nil
		}
		if ok {
			holds++
			continue
		}
		w := invariantWitness{State: st.Name, Predicate: predicate, Values: map[string]any{}}
		for _, c := range prg.conjuncts {
			cp, err := compileInvariant(c, vars)
			if err != nil {
				continue
			}
			if ok, err := evalBool(cp.program, vars); err != nil || !ok {
				w.Failing = append(w.Failing, c)
			}
		}
		for _, id := range prg.idents {
			if v, ok := vars[id]; ok && id != "state" {
				w.Values[id] = v
			}
		}
		if len(w.Values) == 0 {
			w.Values["state"] = json.RawMessage(truncateJSON(state, 2000))
		}
		what := fmt.Sprintf("predicate %s is false on final state %q at quiescence", predicate, st.Name)
		if len(w.Failing) > 0 && len(prg.conjuncts) > 1 {
			what += "; false: " + strings.Join(w.Failing, ", ")
		}
		if len(w.Values) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(w.Values)) {
				parts = append(parts, k+" = "+truncateJSON(w.Values[k], 120))
			}
			what += " (" + strings.Join(parts, ", ") + ")"
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: "invariant-violated", Description: what, Witness: w})
	}
	decideByAnomalies(res)
	res.Keys = len(finals)
	res.Evidence = fmt.Sprintf("final-state-invariant %s evaluated on %s at quiescence: true on %s, false on %s",
		predicate, plural(len(finals), "final state"), thousands(holds), thousands(len(finals)-holds))
	return res, nil
}

// compiledPredicate is a checked predicate with what the witness needs.
type compiledPredicate struct {
	program   cel.Program
	conjuncts []string // the top-level && operands, as source
	idents    []string // identifiers the predicate reads
}

// compileInvariant compiles a predicate with state and vars declared.
func compileInvariant(predicate string, vars map[string]any) (*compiledPredicate, error) {
	opts := []cel.EnvOption{
		cel.EnableMacroCallTracking(),
		ext.Math(), ext.Lists(), ext.Sets(), ext.Strings(),
		cel.Variable("state", cel.DynType),
		cel.Function("sum", cel.Overload("sum_dyn", []*cel.Type{cel.DynType}, cel.DynType, cel.UnaryBinding(celSum))),
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if k != "state" {
			opts = append(opts, cel.Variable(k, cel.DynType))
		}
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("predicate environment: %w", err)
	}
	parsed, iss := env.Parse(predicate)
	if iss.Err() != nil {
		return nil, fmt.Errorf("predicate %q: %w", predicate, iss.Err())
	}
	c := &compiledPredicate{}
	root := parsed.NativeRep()
	for _, e := range conjuncts(root.Expr()) {
		s, err := parser.Unparse(e, root.SourceInfo())
		if err == nil {
			c.conjuncts = append(c.conjuncts, s)
		}
	}
	seen := map[string]bool{}
	ast.PreOrderVisit(root.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.IdentKind && !seen[e.AsIdent()] {
			seen[e.AsIdent()] = true
			c.idents = append(c.idents, e.AsIdent())
		}
	}))
	if vars == nil { // syntax check only: undeclared fields are fine here
		return c, nil
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, fmt.Errorf("predicate %q: %w", predicate, iss.Err())
	}
	if t := checked.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("predicate %q is of type %s, want bool", predicate, t)
	}
	if c.program, err = env.Program(checked); err != nil {
		return nil, fmt.Errorf("predicate %q: %w", predicate, err)
	}
	return c, nil
}

// conjuncts splits an expression at its top-level && operators.
func conjuncts(e ast.Expr) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		var out []ast.Expr
		for _, a := range e.AsCall().Args() {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []ast.Expr{e}
}

// evalBool evaluates a program that must produce a bool.
func evalBool(prg cel.Program, vars map[string]any) (bool, error) {
	out, _, err := prg.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the predicate produced %v (%s), not a bool", out.Value(), out.Type())
	}
	return b, nil
}

// celSum adds the numbers of a list, or the values of a map: an int while
// every addend is an int, else a double.
func celSum(v ref.Val) ref.Val {
	var it traits.Iterator
	var get func(ref.Val) ref.Val
	switch t := v.(type) {
	case traits.Mapper:
		it, get = t.Iterator(), t.Get
	case traits.Lister:
		it, get = t.Iterator(), func(x ref.Val) ref.Val { return x }
	default:
		return types.NewErr("sum: want a list or a map of numbers, got %s", v.Type())
	}
	var isum int64
	var fsum float64
	isInt := true
	for it.HasNext() == types.True {
		e := get(it.Next())
		switch n := e.(type) {
		case types.Int:
			if isInt {
				s := isum + int64(n)
				if (s > isum) != (n > 0) && n != 0 {
					return types.NewErr("sum: integer overflow")
				}
				isum = s
			} else {
				fsum += float64(n)
			}
		case types.Uint:
			if isInt && uint64(n) <= math.MaxInt64 {
				isum += int64(n)
			} else {
				if isInt {
					isInt, fsum = false, float64(isum)
				}
				fsum += float64(n)
			}
		case types.Double:
			if isInt {
				isInt, fsum = false, float64(isum)
			}
			fsum += float64(n)
		default:
			return types.NewErr("sum: element %v is a %s, not a number", e, e.Type())
		}
	}
	if isInt {
		return types.Int(isum)
	}
	return types.Double(fsum)
}

// decodeState decodes a recorded state for CEL: objects as
// map[string]any, arrays as []any, integral numbers as int64, others as
// float64.
func decodeState(data json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return celNative(v), nil
}

func celNative(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i, e := range t {
			t[i] = celNative(e)
		}
		return t
	case map[string]any:
		for k, e := range t {
			t[k] = celNative(e)
		}
		return t
	}
	return v
}
