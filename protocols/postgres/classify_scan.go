package postgres

import (
	"strings"
)

// ---- pre-scan: a bound on the parse tree's depth, before parsing ----

// nesting returns an upper-bound estimate of the depth of the parse tree
// PostgreSQL builds for text, scanning tokens with PostgreSQL's lexical
// rules; it stops early once the estimate passes limit.
//
// Every token that can add a tree level (a word, a quoted identifier, an
// operator character, '.', ':', a bracket) adds 1 to the current element
// of its bracket level; constants, parameters and comments add nothing.
// Elements that are siblings in the tree are separated by ',', ';', AND,
// OR, ON, WHERE, SELECT, HAVING, RETURNING and, inside CASE … END, WHEN,
// THEN, ELSE: the estimate keeps the deepest finished element and adds the
// current one, so a later token that wraps the whole earlier element (the
// IS NULL in "x BETWEEN a AND b IS NULL") is still counted on top of it.
// JOIN, UNION, INTERSECT and EXCEPT wrap everything before them at their
// level (left-deep JoinExpr and set-operation trees) and are never reset
// within it. A bracket's contents, when it closes, count in full toward
// the element it closes in, so left-recursive chains after it
// ("(…)+1+1…") stack on it. A word after '.' is a column label, never one
// of these keywords (t.and is a column).
func nesting(text string, limit int) int {
	lx := lexer{s: text}
	fs := make([]frame, 1, 8)
	deepest, afterDot := 0, false
	for {
		t := lx.next()
		top := &fs[len(fs)-1]
		dot := false
		switch t.kind {
		case tokEOF, tokBad:
			return deepest
		case tokComment:
			dot = afterDot
		case tokString, tokNumber, tokParam:
		case tokWord:
			if afterDot {
				top.cur++
				break
			}
			class, units := keyword(text[t.start:t.end])
			switch class {
			case kwSep:
				top.sep()
				top.cur += units
			case kwCaseSep:
				if top.isCase {
					top.sep()
				} else {
					top.cur++
				}
			case kwWrap:
				top.wraps++
			case kwCase:
				fs = push(fs, true)
			case kwEnd:
				if top.isCase && len(fs) > 1 {
					fs = pop(fs)
				} else {
					top.cur++
				}
			default:
				top.cur += units
			}
		case tokPunct:
			switch text[t.start] {
			case '(', '[':
				fs = push(fs, false)
			case ')', ']':
				fs = closeBracket(fs)
			case ',':
				top.sep()
			case ';':
				top.sep()
				if len(fs) == 1 { // a new statement
					top.wraps, top.prev = 0, 0
				}
			case '.':
				top.cur++
				dot = true
			default:
				top.cur++
			}
		default: // tokQuoted, tokOp
			top.cur++
		}
		afterDot = dot
		top = &fs[len(fs)-1]
		if rel := top.wraps + top.prev + top.cur; rel > top.max {
			top.max = rel
		}
		if d := top.base + top.max; d > deepest {
			deepest = d
			if d > limit {
				return d
			}
		}
	}
}

// frame is one bracket (or CASE … END) level of the pre-scan.
type frame struct {
	base   int  // estimate where the level starts
	wraps  int  // JOIN, UNION, INTERSECT, EXCEPT at this level
	prev   int  // deepest finished element
	cur    int  // the current element
	max    int  // deepest point inside, relative to base
	isCase bool // CASE … END rather than a bracket
}

func (f *frame) sep() {
	f.prev = max(f.prev, f.cur)
	f.cur = 0
}

func push(fs []frame, isCase bool) []frame {
	p := &fs[len(fs)-1]
	p.cur++
	return append(fs, frame{base: p.base + p.wraps + p.prev + p.cur, isCase: isCase})
}

// pop closes the innermost level; its depth counts in its parent's element.
func pop(fs []frame) []frame {
	c := fs[len(fs)-1]
	fs = fs[:len(fs)-1]
	fs[len(fs)-1].cur += c.max
	return fs
}

// closeBracket closes levels up to and including the innermost bracket
// (an unclosed CASE inside it closes too); a stray one counts as a token.
func closeBracket(fs []frame) []frame {
	for len(fs) > 1 {
		isCase := fs[len(fs)-1].isCase
		fs = pop(fs)
		if !isCase {
			return fs
		}
	}
	fs[0].cur++
	return fs
}

const (
	kwOther   = iota
	kwSep     // separates sibling elements
	kwCaseSep // separates them inside CASE … END
	kwWrap    // wraps everything before it at its level
	kwCase
	kwEnd
)

// keyword classifies a word for the pre-scan, and says how many units it
// adds to the current element. SELECT, NOT and the SQL/JSON constructors
// (JSON_OBJECT, JSON_ARRAY, …: any word starting with "json") count 2: a
// level of them costs the parser about twice the stack of a 1+1 level.
func keyword(w string) (class, units int) {
	if len(w) >= 4 && strings.EqualFold(w[:4], "json") {
		return kwOther, 2
	}
	if len(w) < 2 || len(w) > 9 {
		return kwOther, 1
	}
	var b [9]byte
	for i := 0; i < len(w); i++ {
		b[i] = w[i] | 0x20 // ASCII letters to lower case; others cannot match
	}
	switch string(b[:len(w)]) {
	case "and", "or", "on", "where", "having", "returning":
		return kwSep, 0
	case "select":
		return kwSep, 2
	case "when", "then", "else":
		return kwCaseSep, 0
	case "join", "union", "intersect", "except":
		return kwWrap, 0
	case "case":
		return kwCase, 0
	case "end":
		return kwEnd, 0
	case "not":
		return kwOther, 2
	}
	return kwOther, 1
}

// ---- lexer: PostgreSQL's token boundaries (scan.l), without the grammar ----

type tokKind uint8

const (
	tokEOF     tokKind = iota
	tokWord            // identifier or keyword
	tokQuoted          // "quoted identifier", U&"…"
	tokString          // '…', E'…', B'…', X'…', U&'…', $tag$…$tag$
	tokNumber          // numeric constant
	tokParam           // $1
	tokComment         // -- … and /* … */ (nested)
	tokOp              // one operator character
	tokPunct           // any other single byte
	tokBad             // unterminated string, identifier or comment: a syntax error
)

type token struct {
	kind       tokKind
	start, end int
}

// lexer splits text into tokens as PostgreSQL's lexer does, with
// standard_conforming_strings on (libpg_query's setting). Where it must not
// differ is what it hides: a string, quoted identifier or comment ends
// exactly where PostgreSQL's does (FuzzClassify checks this against
// pg_query.Scan). Operators are split into single characters, so it never
// sees fewer operator tokens than PostgreSQL does.
type lexer struct {
	s string
	i int
}

func (l *lexer) next() token {
	s := l.s
	for l.i < len(s) && isSpace(s[l.i]) {
		l.i++
	}
	start := l.i
	if start >= len(s) {
		return token{tokEOF, start, start}
	}
	c := s[start]
	switch {
	case c == '-' && start+1 < len(s) && s[start+1] == '-':
		j := start + 2
		for j < len(s) && s[j] != '\n' && s[j] != '\r' {
			j++
		}
		return l.tok(tokComment, start, j)
	case c == '/' && start+1 < len(s) && s[start+1] == '*':
		return l.comment(start)
	case c == '\'':
		return l.str(start, start+1, 'q')
	case c == '"':
		return l.quoted(start, start+1)
	case c == '$':
		return l.dollar(start)
	case isDigit(c) || c == '.' && start+1 < len(s) && isDigit(s[start+1]):
		return l.tok(tokNumber, start, number(s, start))
	case isLetter(c):
		j := start + 1
		for j < len(s) && (isLetter(s[j]) || isDigit(s[j]) || s[j] == '$') {
			j++
		}
		if j == start+1 && j < len(s) { // E'…', B'…', X'…', U&'…', U&"…" (N'…' is NCHAR '…')
			switch c | 0x20 {
			case 'e':
				if s[j] == '\'' {
					return l.str(start, j+1, 'e')
				}
			case 'b', 'x':
				if s[j] == '\'' {
					return l.str(start, j+1, 'b')
				}
			case 'u':
				if s[j] == '&' && j+1 < len(s) {
					switch s[j+1] {
					case '\'':
						return l.str(start, j+2, 'q')
					case '"':
						return l.quoted(start, j+2)
					}
				}
			}
		}
		return l.tok(tokWord, start, j)
	case strings.IndexByte("~!@#^&|`?+-*/%<>=", c) >= 0:
		return l.tok(tokOp, start, start+1)
	}
	return l.tok(tokPunct, start, start+1)
}

// number returns the end of the numeric constant at j: digits, one
// fraction, an exponent, then any letters and digits (0x1F; junk that
// PostgreSQL refuses).
func number(s string, j int) int {
	digits := func() {
		for j < len(s) && (isDigit(s[j]) || s[j] == '_') {
			j++
		}
	}
	digits()
	if j < len(s) && s[j] == '.' && (j+1 >= len(s) || s[j+1] != '.') {
		j++
		digits()
	}
	if j < len(s) && s[j]|0x20 == 'e' {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			j = k
			digits()
		}
	}
	for j < len(s) && (isLetter(s[j]) || isDigit(s[j])) {
		j++
	}
	return j
}

func (l *lexer) tok(k tokKind, start, end int) token {
	l.i = end
	return token{k, start, end}
}

// comment scans a /* */ comment; they nest.
func (l *lexer) comment(start int) token {
	s := l.s
	depth := 0
	for j := start + 2; j+1 < len(s); {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			if depth == 0 {
				return l.tok(tokComment, start, j+2)
			}
			depth--
			j += 2
		default:
			j++
		}
	}
	return l.tok(tokBad, start, len(s))
}

// str scans a string constant whose body starts at j. In an E'…' string
// (kind 'e') a backslash escapes the next byte; in B'…' and X'…' (kind 'b')
// a doubled quote ends the string and starts another; elsewhere it stands
// for one quote. A string continues across whitespace holding a newline
// into a following '…', in the same kind.
func (l *lexer) str(start, j int, kind byte) token {
	s := l.s
	for {
	body:
		for {
			if j >= len(s) {
				return l.tok(tokBad, start, len(s))
			}
			switch s[j] {
			case '\\':
				if kind == 'e' {
					j++
				}
			case '\'':
				j++
				if kind != 'b' && j < len(s) && s[j] == '\'' { // '' is a quote
					break
				}
				break body
			}
			j++
		}
		k, ok := continuation(s, j)
		if !ok {
			return l.tok(tokString, start, j)
		}
		j = k
	}
}

// continuation reports whether a string closed at j continues: whitespace
// holding a newline, then a quote (libpg_query, unlike PostgreSQL's own
// lexer, allows no comment in between). It returns the position after
// that quote.
func continuation(s string, j int) (int, bool) {
	newline := false
	for ; j < len(s) && isSpace(s[j]); j++ {
		newline = newline || s[j] == '\n' || s[j] == '\r'
	}
	if newline && j < len(s) && s[j] == '\'' {
		return j + 1, true
	}
	return 0, false
}

// quoted scans a quoted identifier whose body starts at j.
func (l *lexer) quoted(start, j int) token {
	s := l.s
	for ; j < len(s); j++ {
		if s[j] == '"' {
			if j+1 < len(s) && s[j+1] == '"' {
				j++
				continue
			}
			return l.tok(tokQuoted, start, j+1)
		}
	}
	return l.tok(tokBad, start, len(s))
}

// dollar scans $n, a $tag$…$tag$ string, or a lone '$'.
func (l *lexer) dollar(start int) token {
	s := l.s
	j := start + 1
	if j < len(s) && isDigit(s[j]) {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		return l.tok(tokParam, start, j)
	}
	if j < len(s) && isLetter(s[j]) {
		for j++; j < len(s) && (isLetter(s[j]) || isDigit(s[j])); j++ {
		}
	}
	if j < len(s) && s[j] == '$' {
		delim := s[start : j+1]
		k := strings.Index(s[j+1:], delim)
		if k < 0 {
			return l.tok(tokBad, start, len(s))
		}
		return l.tok(tokString, start, j+1+k+len(delim))
	}
	return l.tok(tokPunct, start, start+1)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isLetter: what may start an identifier (bytes ≥ 0x80 included).
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_' || c >= 0x80 }
