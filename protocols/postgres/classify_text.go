package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ---- statement text as rules and the audit log see it ----

// normalize returns src as policy.SQL.Text shows it, from the pre-scan
// lexer's tokens, in one linear pass:
//
//   - every constant is replaced by $n, numbered in text order after the
//     highest parameter already in the text: strings of every form ('…',
//     E'…', B'…', X'…', U&'…', dollar-quoted, continued across lines) and
//     numbers written as digits, fraction and exponent. This holds in every
//     statement: EXECUTE's arguments, DDL defaults and options (a user
//     mapping's password), COMMENT text, PREPARE's body;
//   - comments are removed and each run of whitespace and comments between
//     two tokens becomes one space, so padding cannot push what the
//     statement does out of the audit record's first bytes;
//   - identifiers, keywords, operators and parameters stay as written.
//
// Text that does not lex to the end (an unterminated string, identifier or
// comment: only statements that failed to parse) ends in "$n" for the
// unterminated constant or "…" for the rest.
func normalize(src string) string { return normalizeUpTo(src, -1) }

// normalizeUpTo is normalize that stops once the result passes limit bytes
// (no limit when negative).
func normalizeUpTo(src string, limit int) string {
	maxParam := 0
	lx := lexer{s: src}
	for {
		t := lx.next()
		if t.kind == tokEOF || t.kind == tokBad {
			break
		}
		if t.kind == tokParam {
			if n, err := strconv.Atoi(src[t.start+1 : t.end]); err == nil && n > maxParam {
				maxParam = n
			}
		}
	}
	var b strings.Builder
	b.Grow(min(len(src), 1<<20))
	lx = lexer{s: src}
	next, gap, prevEnd := maxParam+1, false, 0
	for {
		t := lx.next()
		if t.kind == tokEOF || limit >= 0 && b.Len() > limit {
			return b.String()
		}
		if t.start > prevEnd {
			gap = true // whitespace before the token
		}
		prevEnd = t.end
		if t.kind == tokComment {
			gap = true
			continue
		}
		if gap && b.Len() > 0 {
			b.WriteByte(' ')
		}
		gap = false
		switch t.kind {
		case tokString:
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(next))
			next++
		case tokNumber:
			if cleanNumber(src[t.start:t.end]) {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(next))
				next++
			} else {
				b.WriteString(src[t.start:t.end])
			}
		case tokBad:
			switch src[t.start] {
			case '-', '/': // an unterminated comment
				b.WriteString("…")
			case '"':
				b.WriteString("…")
			default:
				if q := strings.IndexAny(src[t.start:t.end], `'$`); q >= 0 {
					b.WriteString(src[t.start : t.start+q])
				}
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(next))
			}
			return b.String()
		default:
			b.WriteString(src[t.start:t.end])
		}
	}
}

// AuditTextMax bounds AuditText's normalised text: with the digest after
// it, the result fits the audit record's 4 KiB statement.
const AuditTextMax = 3968

// AuditText is what an audit record shows of a statement Airlock could not
// classify (too long, too many tokens, a syntax error): its normalised
// text (constants replaced, comments removed, whitespace collapsed; see
// normalize) cut to maxLen bytes, followed by the SHA-256 of the full text
// as received, so a reviewer can match it to what the client sent without
// the record holding its constants.
func AuditText(text string, maxLen int) string {
	sum := sha256.Sum256([]byte(text))
	norm := normalizeUpTo(text, maxLen)
	if len(norm) > maxLen {
		cut := maxLen
		for cut > 0 && cut < len(norm) && norm[cut]&0xC0 == 0x80 {
			cut-- // not inside a UTF-8 sequence
		}
		norm = norm[:cut] + "…"
	}
	return fmt.Sprintf("%s /* sha256:%s, %d bytes */", norm, hex.EncodeToString(sum[:]), len(text))
}

// ---- resource bounds, before the parser ----

// MaxTokens bounds the tokens (words, constants, operators, punctuation;
// comments excluded) of one text. The parser's memory grows with tokens,
// not bytes: about 300 bytes per token for Parse and the Go tree it
// returns, so at this bound no text of DefaultMaxLen bytes raises the peak
// RSS by more than about 32 MiB (TestClassifyMemoryBound, which also
// prints the figures; BenchmarkClassifyMemory reports them). pg_query's
// Normalize, which cost about 8 KiB per select-list entry (over 1 GiB for
// 256 KiB of "1,1,…"), is not used.
const MaxTokens = 100000

// MaxStatements bounds the statements of one text (semicolons at the top
// level); each costs a classification and an audit record.
const MaxStatements = 1000

// ErrTooManyTokens is returned (wrapped) for text above MaxTokens or
// MaxStatements.
var ErrTooManyTokens = errors.New("statement has too many tokens")

// ErrAmbiguous is returned (wrapped) for text PostgreSQL could lex in two
// ways, depending on a session setting.
var ErrAmbiguous = errors.New("statement can be read two ways")

// prescan counts text's tokens (comments excluded) and top-level
// statements, stopping once either passes its bound, and finds the first
// '…' string constant that PostgreSQL would end elsewhere with
// standard_conforming_strings off (-1 if none). Off, a backslash in '…'
// escapes the next character, so 'a\' ends at a later quote: whatever
// the setting, text is accepted only when each such string ends at the
// same quote under both readings ('C:\dir' and '\d+' do; 'a\' does
// not), so the token stream is the same under both. E'…', U&'…', B'…',
// X'…' and dollar quotes read the same under both (or are refused by the
// server).
// ambiguous reports whether the string token t would end elsewhere with
// standard_conforming_strings off (see prescan).
func ambiguous(text string, t token) bool {
	if text[t.start] != '\'' || strings.IndexByte(text[t.start:t.end], '\\') < 0 {
		return false
	}
	off := (&lexer{s: text}).str(t.start, t.start+1, 'e')
	return off.kind != tokString || off.end != t.end
}

func prescan(text string) (tokens, statements, backslashAt int) {
	lx := lexer{s: text}
	statements, backslashAt = 1, -1
	for {
		t := lx.next()
		switch t.kind {
		case tokEOF, tokBad:
			return tokens, statements, backslashAt
		case tokComment:
			continue
		case tokString:
			if backslashAt < 0 && ambiguous(text, t) {
				backslashAt = t.start
			}
		case tokPunct:
			if text[t.start] == ';' {
				statements++
			}
		}
		tokens++
		if tokens > MaxTokens || statements > MaxStatements {
			return tokens, statements, backslashAt
		}
	}
}
