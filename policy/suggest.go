package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Suggest (learn mode): allow rules that allow exactly what a task did,
// narrow enough to be least privilege and few enough for a person to
// review. Requests are grouped, one rule per group:
//
//   - PostgreSQL, by sql.kind (and sql.command for ddl and utility
//     statements, where CREATE and DROP differ), statements that write
//     apart from those that do not. A rule bounds the kinds in the
//     statement tree (when it writes), the tables written and read and
//     the functions called (built-ins included), each to the set seen in
//     its group (an empty set allows none). Transactions (BEGIN,
//     COMMIT…) and SET/SHOW of parameters that are not pinned, which
//     touch no table, get one rule each, bounded by the commands and the
//     normalised statements seen.
//   - S3, by action, bucket and copy source bucket. Keys, listing
//     prefixes and copy source keys are generalised to the longest common
//     directory prefix (cut after a '/') of the values under each
//     top-level directory; a value with no '/' is kept whole. A directory
//     named after the request's task id becomes task.id in the rule, so
//     the rule fits every run of the task.
//   - http (egress), by method, host and port.
//
// Every rule names its action as a string literal, so it also allows the
// configuration operations that must be named (Request.NamedOnly).

// SuggestedRule is one allow rule Suggest made, with the requests it was
// made from.
type SuggestedRule struct {
	Rule
	// Protocol is the protocol of the requests the rule allows.
	Protocol string
	// Requests are the indexes, in the input, of the requests of the
	// rule's group, in input order.
	Requests []int
	// Example describes Requests[0] on one line: a normalised statement,
	// S3 resources, or an egress target.
	Example string
	// Conditions are the conjuncts of Allow, in order: Allow is them
	// joined with " && ". None starts or ends with a space or holds a
	// line break, so each can be printed on a line of its own.
	Conditions []string
	// Generalised says, one line each, which dimensions the rule allows
	// more of than the requests used, and why: an S3 key or prefix widened
	// to a directory, a task's directory turned into task.id, a
	// statement's literal values. Same rules as Conditions for printing.
	Generalised []string
}

// suggestPrefix starts the name of every suggested rule:
// suggested-<protocol>-<kind or action>-<n>.
const suggestPrefix = "suggested"

// taskSegment stands for task.id in a generalised S3 key while prefixes
// are computed. S3 keys cannot hold it (they are UTF-8 without NUL in
// Airlock's audit records).
const taskSegment = "\x00"

// suggestKey identifies a group of requests one rule covers.
type suggestKey struct {
	protocol string
	action   string // sql.kind, s3.action or http.method
	command  string // sql.command, for ddl and utility statements
	writes   bool   // the statements write tables
	bucket   string
	source   string // s3.source_bucket
	host     string
	port     int
}

// Suggest returns allow rules that together allow every request in reqs
// (as enforce mode decides) and as little else as the grouping above
// permits. Rules come sorted by protocol (postgres, s3, http) and group,
// so the same requests give the same rules in any order. A request that
// trips a guard rail cannot be allowed by any rule: it is an error, as
// is a request of another protocol.
func Suggest(reqs []Request) ([]SuggestedRule, error) {
	groups := map[suggestKey][]int{}
	for i := range reqs {
		k, err := groupOf(&reqs[i])
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		groups[k] = append(groups[k], i)
	}
	keys := make([]suggestKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	out := make([]SuggestedRule, 0, len(keys))
	seq := map[string]int{} // rules so far per protocol and action
	for _, k := range keys {
		members := groups[k]
		var conds, notes []string
		switch k.protocol {
		case ProtocolPostgres:
			conds, notes = sqlRule(k, reqs, members)
		case ProtocolS3:
			conds, notes = s3Rule(k, reqs, members)
		case ProtocolHTTP:
			conds = httpRule(k)
		}
		seq[k.protocol+" "+k.action]++
		name := suggestName(k.protocol, k.action, seq[k.protocol+" "+k.action])
		out = append(out, SuggestedRule{
			Rule:        Rule{Name: name, Allow: strings.Join(conds, " && ")},
			Protocol:    k.protocol,
			Requests:    members,
			Example:     example(&reqs[members[0]]),
			Conditions:  conds,
			Generalised: notes,
		})
	}
	return out, nil
}

func groupOf(r *Request) (suggestKey, error) {
	if r.Guard != "" {
		return suggestKey{}, fmt.Errorf("trips a guard rail (%s): no rule can allow it", r.Guard)
	}
	k := suggestKey{protocol: r.Protocol, action: r.Action()}
	switch r.Protocol {
	case ProtocolPostgres:
		if k.action == "" {
			return k, errors.New("a statement without sql.kind")
		}
		if k.action == "ddl" || k.action == "utility" {
			k.command = r.SQL.Command
		}
		k.writes = len(r.SQL.Writes) > 0
	case ProtocolS3:
		if k.action == "" {
			return k, errors.New("an S3 request without s3.action")
		}
		k.bucket, k.source = r.S3.Bucket, r.S3.SourceBucket
	case ProtocolHTTP:
		if k.action == "" || r.HTTP.Host == "" {
			return k, errors.New("an http request without a method or a host")
		}
		k.host, k.port = r.HTTP.Host, r.HTTP.Port
	default:
		return k, fmt.Errorf("protocol %q is not postgres, s3 or http", r.Protocol)
	}
	return k, nil
}

func compareKeys(a, b suggestKey) int {
	order := func(p string) int { return slices.Index([]string{ProtocolPostgres, ProtocolS3, ProtocolHTTP}, p) }
	writes := func(w bool) int {
		if w {
			return 1
		}
		return 0
	}
	return cmp.Or(
		cmp.Compare(order(a.protocol), order(b.protocol)),
		cmp.Compare(a.action, b.action),
		cmp.Compare(a.command, b.command),
		cmp.Compare(writes(a.writes), writes(b.writes)),
		cmp.Compare(a.bucket, b.bucket),
		cmp.Compare(a.source, b.source),
		cmp.Compare(a.host, b.host),
		cmp.Compare(a.port, b.port),
	)
}

// suggestName is suggested-<protocol>-<action>-<n>, cut to the 64
// characters a rule name may have.
func suggestName(protocol, action string, n int) string {
	clean := strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.') {
			return r
		}
		return '-'
	}, action)
	tail := "-" + strconv.Itoa(n)
	name := suggestPrefix + "-" + protocol + "-" + clean
	return name[:min(len(name), 64-len(tail))] + tail
}

// sqlRule bounds a group of statements by kind, the kinds in their trees
// (when they write), the tables they write and read, and the functions
// they call, built-ins included: a rule allows no function its group did
// not call, except that more than maxListedPure side-effect-free
// built-ins (Pure) become f.pure(). Transactions are bounded by command (BEGIN, COMMIT…) and SET
// or SHOW by the normalised text, which names the parameter.
func sqlRule(k suggestKey, reqs []Request, members []int) (parts, notes []string) {
	parts = []string{"sql.kind == " + celString(k.action)}
	switch k.action {
	case "transaction", "set":
		field, get := "sql.command", func(s *SQL) string { return s.Command }
		if k.action == "set" {
			field, get = "sql.text", func(s *SQL) string { return s.Text }
		}
		var vs []string
		for _, i := range members {
			vs = append(vs, get(&reqs[i].SQL))
		}
		if k.action == "set" {
			notes = []string{"literal values: any value for the parameters named (statements are normalised)"}
		}
		return append(parts, inList(field, vs)), notes
	}
	if k.command != "" {
		parts = append(parts, "sql.command == "+celString(k.command))
	}
	var kinds, reads, writes, funcs []string
	for _, i := range members {
		s := &reqs[i].SQL
		kinds = append(kinds, s.Kinds...)
		reads = append(reads, s.Reads...)
		writes = append(writes, s.Writes...)
		funcs = append(funcs, s.Functions...)
	}
	if k.writes {
		parts = append(parts,
			"sql.kinds.all(k, k in "+celList(append(kinds, k.action))+")",
			"sql.writes.all(t, t in "+celList(writes)+")")
	} else {
		parts = append(parts, "sql.writes.size() == 0")
	}
	if len(reads) == 0 {
		parts = append(parts, "sql.reads.size() == 0")
	} else {
		parts = append(parts, "sql.reads.all(t, t in "+celList(reads)+")")
	}
	funcs = slices.Compact(slices.Sorted(slices.Values(funcs)))
	var impure []string
	for _, f := range funcs {
		if !Pure(f) {
			impure = append(impure, f)
		}
	}
	switch {
	case len(funcs) == 0:
		parts = append(parts, "sql.functions.size() == 0")
	case len(funcs)-len(impure) > maxListedPure && len(impure) == 0:
		parts = append(parts, "sql.functions.all(f, f.pure())")
	case len(funcs)-len(impure) > maxListedPure:
		parts = append(parts, "sql.functions.all(f, f in "+celList(impure)+" || f.pure())")
	default:
		parts = append(parts, "sql.functions.all(f, f in "+celList(funcs)+")")
	}
	if len(funcs)-len(impure) > maxListedPure {
		notes = append(notes, fmt.Sprintf("functions: the %d side-effect-free built-ins seen became f.pure(), the class generated from pg_proc", len(funcs)-len(impure)))
	}
	notes = append(notes, "statements: any of this kind over these tables and functions, with any literal values ("+
		strconv.Itoa(distinctTexts(reqs, members))+" distinct normalised statements seen)")
	if len(members) > 1 {
		notes = append(notes, "tables and functions: the union over the group; a statement may combine them")
	}
	return parts, notes
}

func distinctTexts(reqs []Request, members []int) int {
	seen := map[string]bool{}
	for _, i := range members {
		seen[reqs[i].SQL.Text] = true
	}
	return len(seen)
}

// maxListedPure is how many pure built-ins a rule lists by name; a group
// that called more gets f.pure() instead of the list.
const maxListedPure = 8

// inList is field == v for one distinct value, field in [...] for more.
func inList(field string, vs []string) string {
	vs = slices.Compact(slices.Sorted(slices.Values(vs)))
	if len(vs) == 1 {
		return field + " == " + celString(vs[0])
	}
	return field + " in " + celList(vs)
}

// s3Rule bounds a group of S3 requests by action, bucket, copy source
// bucket, and the generalised keys, prefixes and copy source keys.
func s3Rule(k suggestKey, reqs []Request, members []int) (parts, notes []string) {
	parts = []string{"s3.action == " + celString(k.action)}
	if k.bucket != "" {
		parts = append(parts, "s3.bucket == "+celString(k.bucket))
	}
	add := func(field string, get func(*S3) string) {
		var values []string
		used, task := false, false
		for _, i := range members {
			v := get(&reqs[i].S3)
			used = used || v != ""
			g := withTaskSegment(v, reqs[i].Task.ID)
			task = task || g != v
			values = append(values, g)
		}
		if !used {
			return
		}
		parts = append(parts, valueRule(field, values))
		if task {
			notes = append(notes, field+": a directory named after the task id became task.id, so the rule fits every run and no other run's directory")
		}
		dirs, _ := generalise(values)
		for _, d := range dirs {
			n := 0
			for _, v := range slices.Compact(slices.Sorted(slices.Values(values))) {
				if strings.HasPrefix(v, d) {
					n++
				}
			}
			shown := strings.ReplaceAll(d, taskSegment, "<task.id>")
			notes = append(notes, fmt.Sprintf("%s: widened to the prefix %s, the longest directory shared by the %d distinct value(s) seen under %s",
				field, celString(shown), n, celString(strings.ReplaceAll(d[:strings.IndexByte(d, '/')+1], taskSegment, "<task.id>"))))
		}
	}
	add("s3.key", func(s *S3) string { return s.Key })
	add("s3.prefix", func(s *S3) string { return s.Prefix })
	if k.source != "" {
		parts = append(parts, "s3.source_bucket == "+celString(k.source))
	}
	add("s3.source_key", func(s *S3) string { return s.SourceKey })
	return parts, notes
}

func httpRule(k suggestKey) []string {
	return []string{"http.host == " + celString(k.host), "http.port == " + strconv.Itoa(k.port), "http.method == " + celString(k.action)}
}

// withTaskSegment replaces each directory of key named id (a segment
// followed by '/') with taskSegment.
func withTaskSegment(key, id string) string {
	if id == "" || strings.ContainsAny(id, "/"+taskSegment) {
		return key
	}
	segs := strings.Split(key, "/")
	for i := range len(segs) - 1 {
		if segs[i] == id {
			segs[i] = taskSegment
		}
	}
	return strings.Join(segs, "/")
}

// generalise returns the alternatives a set of S3 keys (or prefixes)
// is generalised to: per top-level directory, the longest directory
// prefix (ending in '/') that all its values share; and the values with
// no '/', which are kept whole. Both come sorted and without duplicates.
func generalise(values []string) (dirs, exact []string) {
	byTop := map[string]string{} // top-level directory → common prefix so far
	for _, v := range values {
		i := strings.IndexByte(v, '/')
		if i < 0 {
			exact = append(exact, v)
			continue
		}
		top := v[:i+1]
		if p, ok := byTop[top]; ok {
			v = commonPrefix(p, v)
		}
		byTop[top] = v
	}
	for _, p := range byTop {
		dirs = append(dirs, p[:strings.LastIndexByte(p, '/')+1])
	}
	slices.Sort(dirs)
	slices.Sort(exact)
	return dirs, slices.Compact(exact)
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

// valueRule is the condition on field that the generalised values allow.
func valueRule(field string, values []string) string {
	dirs, exact := generalise(values)
	var alts []string
	for _, d := range dirs {
		alts = append(alts, field+".startsWith("+taskConcat(d)+")")
	}
	switch len(exact) {
	case 0:
	case 1:
		alts = append(alts, field+" == "+celString(exact[0]))
	default:
		alts = append(alts, field+" in "+celList(exact))
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, " || ") + ")"
}

// taskConcat turns a prefix holding taskSegment into a CEL concatenation
// with task.id: "curated/" + task.id + "/".
func taskConcat(p string) string {
	var terms []string
	for i, lit := range strings.Split(p, taskSegment) {
		if i > 0 {
			terms = append(terms, "task.id")
		}
		if lit != "" {
			terms = append(terms, celString(lit))
		}
	}
	return strings.Join(terms, " + ")
}

// celString quotes s as a CEL string literal (CEL shares Go's escapes for
// valid UTF-8).
func celString(s string) string { return strconv.Quote(s) }

// celList is a sorted CEL list literal of the distinct strings in vs.
func celList(vs []string) string {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	vs = slices.Compact(vs)
	quoted := make([]string, len(vs))
	for i, v := range vs {
		quoted[i] = celString(v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// example describes a request on one line, for a person reading a rule.
func example(r *Request) string {
	s := strings.Join(r.Resources(), " ")
	switch r.Protocol {
	case ProtocolPostgres:
		s = r.SQL.Text
	case ProtocolHTTP:
		s = r.HTTP.Method + " " + s
	}
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	const maxLen = 160
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
