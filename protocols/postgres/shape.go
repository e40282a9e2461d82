package postgres

import (
	"strings"
)

// A statement's shape is its text with the literals taken out: pgbench's
// "SELECT abalance FROM pgbench_accounts WHERE aid = 4711;" and the same
// query for aid 42 have one shape, and one classification, so the cache
// can answer the second without parsing. Only what cannot change the parse
// is taken out:
//
//   - numeric constants written strictly as digits, one fraction and an
//     exponent: "1from" (PostgreSQL 15 reads SELECT 1 FROM, libpg_query
//     refuses it) stays in the shape as written;
//   - '…', E'…', B'…', X'…' and U&'…' strings, whose ends the lexer finds
//     exactly where PostgreSQL does; the prefix stays in the shape.
//
// Dollar-quoted strings stay too: they are function and DO bodies as often
// as data. A shape is cached only when the classification cannot depend on
// a literal's value (see shapeable) and the statement is the whole text, so
// every statement of the shape has the same classification and the same
// sql.text. A '…' string that would lex differently with
// standard_conforming_strings off gives no shape: Classify refuses it.

// shape returns text's shape and its normalised text (see normalize: the
// same for every text of the shape, as the literals it takes out are
// replaced there and everything else in the key is kept); ok is false when
// the text has nothing to take out or does not lex.
func shape(text string) (key, norm string, ok bool) {
	lx := lexer{s: text}
	type span struct{ start, end, keep int } // keep: a string's prefix length; -1 for a number
	var lits []span
	for {
		t := lx.next()
		switch t.kind {
		case tokEOF:
			goto done
		case tokBad:
			return "", "", false
		case tokNumber:
			if cleanNumber(text[t.start:t.end]) {
				lits = append(lits, span{t.start, t.end, -1})
			}
		case tokString:
			if ambiguous(text, t) {
				return "", "", false // Classify refuses it: no shape may stand for it
			}
			if q := strings.IndexByte(text[t.start:t.end], '\''); q >= 0 {
				lits = append(lits, span{t.start, t.end, q})
			}
		}
	}
done:
	if len(lits) == 0 {
		return "", "", false
	}
	var k strings.Builder
	k.Grow(len(text))
	at := 0
	for _, l := range lits {
		// NUL-delimited, as no statement text holds a NUL (Classify
		// refuses it): a number is \0#\0, a string \0<prefix>'\0.
		k.WriteString(text[at:l.start])
		k.WriteByte(0)
		if l.keep < 0 {
			k.WriteByte('#')
		} else {
			k.WriteString(text[l.start : l.start+l.keep+1])
		}
		k.WriteByte(0)
		at = l.end
	}
	k.WriteString(text[at:])
	return k.String(), normalize(text), true
}

// cleanNumber reports whether s is digits, an optional fraction and an
// optional exponent, and nothing else.
func cleanNumber(s string) bool {
	i := 0
	digits := func() int {
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return i - j
	}
	d := digits()
	if i < len(s) && s[i] == '.' {
		i++
		d += digits()
	}
	if d == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// shapeable reports whether a classification holds for every statement of
// its shape: one plain DML statement (a literal can switch EXPLAIN ANALYZE
// on, or name the parameter set_config sets), no guard rail, no table or
// function named by a constant (nextval('s'), 'x'::regclass), nothing
// remembered or forgotten by name, and the statement's normalised text is
// the shape's (no other statement, and no comment after it).
func shapeable(sts []Statement, norm string) bool {
	if len(sts) != 1 {
		return false
	}
	st := sts[0]
	switch st.SQL.Kind {
	case "select", "insert", "update", "delete":
	default:
		return false
	}
	return st.Guard == "" && !st.byValue && len(st.SetParams) == 0 && st.Prepare == nil && st.Execute == "" &&
		st.Deallocate == "" && st.SQL.Text == strings.TrimRight(norm, "; ")
}
