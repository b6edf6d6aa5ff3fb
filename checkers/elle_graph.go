package checkers

import (
	"cmp"
	"context"
	"slices"
)

// elleEdgeMask is the set of relations one dependency-graph edge stands for.
type elleEdgeMask uint8

// Edge kinds: Adya's write-write, write-read and read-write
// (anti-)dependencies, plus process (session) order and real-time order.
const (
	edgeWW elleEdgeMask = 1 << iota
	edgeWR
	edgeRW
	edgeProcess
	edgeRealtime

	edgeData  = edgeWW | edgeWR | edgeRW
	edgeOrder = edgeProcess | edgeRealtime
	edgeAll   = edgeData | edgeOrder
)

// name returns the edge kind's short name (one kind only).
func (m elleEdgeMask) name() string {
	switch m {
	case edgeWW:
		return "ww"
	case edgeWR:
		return "wr"
	case edgeRW:
		return "rw"
	case edgeProcess:
		return "process"
	case edgeRealtime:
		return "realtime"
	}
	return "?"
}

// elleRawEdge is an edge before the graph is built.
type elleRawEdge struct {
	from, to int32
	mask     elleEdgeMask
}

// elleGraph is a dependency graph over transactions in compressed sparse
// row form: the successors of node n are to[start[n]:start[n+1]], each
// with its mask; parallel edges are merged.
type elleGraph struct {
	n     int
	start []int32
	to    []int32
	mask  []elleEdgeMask

	scratch *elleTarjanScratch
	bfs     *elleBFSScratch
}

// buildElleGraph builds the graph of n nodes from edges, dropping self-loops.
func buildElleGraph(n int, edges []elleRawEdge) *elleGraph {
	edges = slices.DeleteFunc(edges, func(e elleRawEdge) bool { return e.from == e.to })
	slices.SortFunc(edges, func(a, b elleRawEdge) int {
		if c := cmp.Compare(a.from, b.from); c != 0 {
			return c
		}
		return cmp.Compare(a.to, b.to)
	})
	g := &elleGraph{n: n, start: make([]int32, n+1)}
	for i := 0; i < len(edges); {
		e := edges[i]
		m := e.mask
		j := i + 1
		for ; j < len(edges) && edges[j].from == e.from && edges[j].to == e.to; j++ {
			m |= edges[j].mask
		}
		g.to = append(g.to, e.to)
		g.mask = append(g.mask, m)
		g.start[e.from+1]++
		i = j
	}
	for i := 1; i <= n; i++ {
		g.start[i] += g.start[i-1]
	}
	return g
}

// edge returns the mask of the edge a→b, 0 when there is none.
func (g *elleGraph) edge(a, b int32) elleEdgeMask {
	succ := g.to[g.start[a]:g.start[a+1]]
	if i, ok := slices.BinarySearch(succ, b); ok {
		return g.mask[int(g.start[a])+i]
	}
	return 0
}

// elleBudget counts the search steps left; the searches stop when it runs out
// or the context is done.
type elleBudget struct {
	ctx   context.Context
	left  int
	spent int
	out   bool // ran out (or was cancelled) during a search
}

// step spends one step; it reports false once nothing is left.
func (b *elleBudget) step() bool {
	if b.out {
		return false
	}
	b.spent++
	if b.left <= 0 || b.spent&4095 == 0 && b.ctx.Err() != nil {
		b.out = true
		return false
	}
	b.left--
	return true
}

// elleTarjanScratch is the per-node working storage of [elleGraph.sccs],
// allocated once per graph and reset after each call.
type elleTarjanScratch struct {
	index, low []int32 // index -1: not visited
	onStack    []bool
}

// sccs finds the strongly connected components (Tarjan, iteratively) of
// the subgraph of g over nodes (member[n] == want) and edges whose mask
// meets allowed. It returns the components with more than one node,
// each sorted; comp is filled with a component number per node given, -1
// for trivial ones. It spends one budget step per edge; ok is false when
// the budget ran out.
func (g *elleGraph) sccs(nodes []int32, member []int32, want int32, allowed elleEdgeMask, comp []int32, b *elleBudget) (out [][]int32, ok bool) {
	sc := g.scratch
	if sc == nil {
		sc = &elleTarjanScratch{index: make([]int32, g.n), low: make([]int32, g.n), onStack: make([]bool, g.n)}
		for i := range sc.index {
			sc.index[i] = -1
		}
		g.scratch = sc
	}
	defer func() {
		for _, v := range nodes {
			sc.index[v], sc.low[v], sc.onStack[v] = -1, 0, false
		}
	}()
	var stack []int32
	type frame struct {
		node int32
		next int32 // next edge position to look at
	}
	var calls []frame
	var counter int32
	for _, v := range nodes {
		comp[v] = -1
	}
	visit := func(v int32) {
		sc.index[v], sc.low[v] = counter, counter
		counter++
		stack = append(stack, v)
		sc.onStack[v] = true
		calls = append(calls, frame{v, g.start[v]})
	}
	for _, root := range nodes {
		if sc.index[root] >= 0 {
			continue
		}
		visit(root)
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.node
			if f.next < g.start[v+1] {
				e := f.next
				f.next++
				if g.mask[e]&allowed == 0 {
					continue
				}
				w := g.to[e]
				if member[w] != want {
					continue
				}
				if !b.step() {
					return nil, false
				}
				if sc.index[w] < 0 {
					visit(w)
				} else if sc.onStack[w] {
					sc.low[v] = min(sc.low[v], sc.index[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				p := calls[len(calls)-1].node
				sc.low[p] = min(sc.low[p], sc.low[v])
			}
			if sc.low[v] == sc.index[v] {
				i := len(stack) - 1
				if stack[i] == v { // a trivial component, the common case
					stack = stack[:i]
					sc.onStack[v] = false
					continue
				}
				for stack[i] != v {
					i--
				}
				c := slices.Clone(stack[i:])
				stack = stack[:i]
				for _, w := range c {
					sc.onStack[w] = false
				}
				if len(c) > 1 {
					id := int32(len(out))
					for _, w := range c {
						comp[w] = id
					}
					slices.Sort(c)
					out = append(out, c)
				}
			}
		}
	}
	return out, true
}

// elleStep is one edge of a cycle.
type elleStep struct {
	from, to int32
	kind     elleEdgeMask // the one relation the cycle uses it for
}

// ellePathState is a node in a product search: the node and a small state.
type ellePathState struct {
	node  int32
	state uint8
}

// ellePathStates is the number of search states per node a product search
// may use (state values 0…pathStates-1).
const ellePathStates = 4

// elleBFSScratch is the working storage of [elleGraph.shortestPath], reused
// across searches: a state is seen in the current search when its stamp
// equals the search's generation.
type elleBFSScratch struct {
	gen   uint32
	stamp []uint32
	prev  []int32 // the state it was reached from (node*pathStates+state)
	kind  []elleEdgeMask
	queue []int32
}

// shortestPath searches breadth-first from (from, s0) for a state
// accepted by goal, moving along edges through next, which returns the
// states an edge of mask m leads to from state s (at most two, with the
// relation used). Only nodes with member[n] == want are visited. It
// returns the steps of the path, or found false when there is none;
// exhausted is true when the budget ran out first.
func (g *elleGraph) shortestPath(from int32, s0 uint8, member []int32, want int32,
	next func(s uint8, m elleEdgeMask) [2]elleMove, goal func(ellePathState) bool, b *elleBudget) (path []elleStep, found, exhausted bool) {
	sc := g.bfs
	if sc == nil {
		n := g.n * ellePathStates
		sc = &elleBFSScratch{stamp: make([]uint32, n), prev: make([]int32, n), kind: make([]elleEdgeMask, n)}
		g.bfs = sc
	}
	sc.gen++
	if sc.gen == 0 { // wrapped: forget every stamp
		clear(sc.stamp)
		sc.gen = 1
	}
	start := from*ellePathStates + int32(s0)
	sc.stamp[start] = sc.gen
	sc.prev[start] = -1
	queue := append(sc.queue[:0], start)
	defer func() { sc.queue = queue[:0] }()
	for head := 0; head < len(queue); head++ {
		cur := queue[head]
		node, state := cur/ellePathStates, uint8(cur%ellePathStates)
		for e := g.start[node]; e < g.start[node+1]; e++ {
			w := g.to[e]
			if member[w] != want {
				continue
			}
			for _, t := range next(state, g.mask[e]) {
				if t.kind == 0 {
					continue
				}
				if !b.step() {
					return nil, false, true
				}
				ns := w*ellePathStates + int32(t.state)
				if sc.stamp[ns] == sc.gen {
					continue
				}
				sc.stamp[ns], sc.prev[ns], sc.kind[ns] = sc.gen, cur, t.kind
				if goal(ellePathState{w, t.state}) {
					for x := ns; x != start; x = sc.prev[x] {
						path = append(path, elleStep{from: sc.prev[x] / ellePathStates, to: x / ellePathStates, kind: sc.kind[x]})
					}
					slices.Reverse(path)
					return path, true, false
				}
				queue = append(queue, ns)
			}
		}
	}
	return nil, false, false
}

// elleMove is one move of a product search: the relation used and the
// state reached; kind 0 means no move.
type elleMove struct {
	kind  elleEdgeMask
	state uint8
}

// elleFirstKind returns the first relation of order present in m.
func elleFirstKind(m elleEdgeMask, order ...elleEdgeMask) elleEdgeMask {
	for _, k := range order {
		if m&k != 0 {
			return k
		}
	}
	return 0
}

// elleNonRW is the preference order for using an edge as a non-rw step:
// dependencies first, then process, then real-time order.
var elleNonRW = []elleEdgeMask{edgeWW, edgeWR, edgeProcess, edgeRealtime}
