package policy

import (
	"slices"
)

// ruleIndex finds, for a request, the rules that can match it: a rule is
// left out only when one of its constraints rules it out (see constraint).
// It is a tree per protocol, one level per dimension (in dim order): at a
// level, the rules that constrain the dimension are filed under each
// value and prefix they allow, the others under "any". A lookup follows
// "any" and every edge the request's value satisfies, collecting the
// rules held at the nodes it passes. A rule without constraints sits at
// the root and is evaluated for every request of its protocols.
type ruleIndex struct {
	roots [numClasses]*indexNode
}

// Protocol classes: one tree each. Class other holds the rules that apply
// to every protocol, for a request of no known protocol.
const (
	classPostgres = iota
	classS3
	classHTTP
	classOther
	numClasses
)

var classBits = [numClasses]protocolSet{forPostgres, forS3, forHTTP, 0}

func protocolClass(p string) int {
	switch p {
	case ProtocolPostgres:
		return classPostgres
	case ProtocolS3:
		return classS3
	case ProtocolHTTP:
		return classHTTP
	}
	return classOther
}

type indexNode struct {
	rules  []int32 // rules with no constraint left, in policy order
	dim    dim     // numDims: no children
	any    *indexNode
	exact  map[string]*indexNode
	prefix map[string]*indexNode
	suffix map[string]*indexNode
	plens  []int        // lengths of the prefix keys, ascending, each once
	slens  []int        // lengths of the suffix keys, ascending, each once
	edges  []*indexNode // every child but any, for a list-all level on an empty list
}

type indexEntry struct {
	rule int32
	cons []constraint // sorted by dim
}

// buildIndex files every rule in the trees of the protocols it applies to.
func buildIndex(rules []compiledRule) ruleIndex {
	var ix ruleIndex
	for c := range numClasses {
		var es []indexEntry
		for i := range rules {
			r := &rules[i]
			if r.protocols == 0 || r.protocols&classBits[c] != 0 {
				es = append(es, indexEntry{rule: int32(i), cons: r.constraints})
			}
		}
		ix.roots[c] = buildNode(es, 0)
	}
	return ix
}

func (e indexEntry) at(d dim) (constraint, bool) {
	for _, c := range e.cons {
		if c.dim == d {
			return c, true
		}
	}
	return constraint{}, false
}

func buildNode(es []indexEntry, from dim) *indexNode {
	n := &indexNode{dim: numDims}
	var rest []indexEntry
	for _, e := range es {
		i := slices.IndexFunc(e.cons, func(c constraint) bool { return c.dim >= from })
		if i < 0 {
			n.rules = append(n.rules, e.rule)
			continue
		}
		n.dim = min(n.dim, e.cons[i].dim)
		rest = append(rest, e)
	}
	if len(rest) == 0 {
		return n
	}
	var anyEs []indexEntry
	exact := map[string][]indexEntry{}
	prefix := map[string][]indexEntry{}
	suffix := map[string][]indexEntry{}
	for _, e := range rest {
		c, ok := e.at(n.dim)
		if !ok {
			anyEs = append(anyEs, e)
			continue
		}
		for _, v := range c.exact {
			exact[v] = append(exact[v], e)
		}
		for _, p := range c.prefixes {
			prefix[p] = append(prefix[p], e)
		}
		for _, x := range c.suffixes {
			suffix[x] = append(suffix[x], e)
		}
	}
	if len(anyEs) > 0 {
		n.any = buildNode(anyEs, n.dim+1)
	}
	if len(exact) > 0 {
		n.exact = make(map[string]*indexNode, len(exact))
		for v, es := range exact {
			n.exact[v] = buildNode(es, n.dim+1)
			n.edges = append(n.edges, n.exact[v])
		}
	}
	n.prefix, n.plens = affixNodes(prefix, n)
	n.suffix, n.slens = affixNodes(suffix, n)
	return n
}

// affixNodes builds the children under prefixes or suffixes, and the
// lengths of those, ascending, each once.
func affixNodes(byAffix map[string][]indexEntry, n *indexNode) (map[string]*indexNode, []int) {
	if len(byAffix) == 0 {
		return nil, nil
	}
	kids := make(map[string]*indexNode, len(byAffix))
	var lens []int
	for a, es := range byAffix {
		kids[a] = buildNode(es, n.dim+1)
		n.edges = append(n.edges, kids[a])
		if !slices.Contains(lens, len(a)) {
			lens = append(lens, len(a))
		}
	}
	slices.Sort(lens)
	return kids, lens
}

// candidates appends to out the rules that can match req, in policy
// order, each once.
func (ix *ruleIndex) candidates(req *Request, out []int32) []int32 {
	out = ix.roots[protocolClass(req.Protocol)].collect(req, out)
	if len(out) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

func (n *indexNode) collect(req *Request, out []int32) []int32 {
	for ; n != nil; n = n.any {
		out = append(out, n.rules...)
		if n.dim == numDims {
			break
		}
		switch list, all := n.dim.isList(); {
		case !list:
			out = n.follow(n.dim.scalar(req), req, out)
		case all:
			// Every element must satisfy the constraint: following the
			// first element's edges is enough; an empty list satisfies all.
			if l := n.dim.list(req); len(l) > 0 {
				out = n.follow(l[0], req, out)
			} else {
				for _, c := range n.edges {
					out = c.collect(req, out)
				}
			}
		default:
			for _, v := range n.dim.list(req) {
				out = n.follow(v, req, out)
			}
		}
	}
	return out
}

// follow collects below the edges value v satisfies.
func (n *indexNode) follow(v string, req *Request, out []int32) []int32 {
	if c := n.exact[v]; c != nil {
		out = c.collect(req, out)
	}
	for _, l := range n.plens {
		if l > len(v) {
			break
		}
		if c := n.prefix[v[:l]]; c != nil {
			out = c.collect(req, out)
		}
	}
	for _, l := range n.slens {
		if l > len(v) {
			break
		}
		if c := n.suffix[v[len(v)-l:]]; c != nil {
			out = c.collect(req, out)
		}
	}
	return out
}
