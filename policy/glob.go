package policy

import (
	"errors"
	"math/bits"
	"unicode/utf8"
)

// Glob patterns, for the CEL function string.glob(pattern):
//
//	*     any run of characters except '/'
//	**    any run of characters, '/' included
//	?     one character except '/'
//	\c    the character c itself
//
// Everything else matches itself. Matching is on runes, over the whole
// string, and takes time proportional to len(s) × len(pattern) at worst
// (an NFA simulation, no backtracking). A byte that is not part of valid
// UTF-8 is a character of its own, equal only to the same byte: it does
// not match a different invalid byte, nor an encoded U+FFFD.

type globOp uint8

const (
	globLit  globOp = iota // one rune
	globOne                // ?
	globStar               // *
	globAny                // **
)

type globTok struct {
	op globOp
	r  rune
}

// invalidByte is where the characters for bytes outside valid UTF-8
// start: past the last rune, so no rune equals one.
const invalidByte = utf8.MaxRune + 1

// decodeGlob is utf8.DecodeRuneInString, except that an invalid byte b
// decodes to invalidByte+b rather than to utf8.RuneError.
func decodeGlob(s string) (rune, int) {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		r = invalidByte + rune(s[0])
	}
	return r, n
}

// maxGlobTokens bounds a pattern; the NFA's state set is one uint64.
const maxGlobTokens = 63

var errGlobTooLong = errors.New("glob pattern has more than 63 elements")
var errGlobTrailingEscape = errors.New(`glob pattern ends with an unfinished escape '\'`)

// compileGlob turns pattern into tokens, appending to buf.
func compileGlob(pattern string, buf []globTok) ([]globTok, error) {
	toks := buf[:0]
	for i := 0; i < len(pattern); {
		r, n := decodeGlob(pattern[i:])
		i += n
		var t globTok
		switch r {
		case '*':
			t.op = globStar
			if i < len(pattern) && pattern[i] == '*' {
				t.op = globAny
				i++
			}
			// Consecutive stars collapse into the widest of them.
			for i < len(pattern) && pattern[i] == '*' {
				i++
			}
			if len(toks) > 0 && (toks[len(toks)-1].op == globStar || toks[len(toks)-1].op == globAny) {
				if t.op == globAny {
					toks[len(toks)-1].op = globAny
				}
				continue
			}
		case '?':
			t.op = globOne
		case '\\':
			if i >= len(pattern) {
				return nil, errGlobTrailingEscape
			}
			r, n = decodeGlob(pattern[i:])
			i += n
			t = globTok{op: globLit, r: r}
		default:
			t = globTok{op: globLit, r: r}
		}
		if len(toks) == maxGlobTokens {
			return nil, errGlobTooLong
		}
		toks = append(toks, t)
	}
	return toks, nil
}

// Glob reports whether s matches pattern (see the package's glob syntax).
func Glob(s, pattern string) (bool, error) {
	var buf [maxGlobTokens]globTok
	toks, err := compileGlob(pattern, buf[:0])
	if err != nil {
		return false, err
	}
	return matchGlob(s, toks), nil
}

func matchGlob(s string, toks []globTok) bool {
	final := uint64(1) << len(toks)
	states := closeGlob(1, toks)
	for len(s) > 0 {
		r, n := decodeGlob(s)
		s = s[n:]
		var next uint64
		for set := states; set != 0; set &= set - 1 {
			i := bits.TrailingZeros64(set)
			if i >= len(toks) {
				continue
			}
			switch t := toks[i]; t.op {
			case globLit:
				if t.r == r {
					next |= 1 << (i + 1)
				}
			case globOne:
				if r != '/' {
					next |= 1 << (i + 1)
				}
			case globStar:
				if r != '/' {
					next |= 1 << i
				}
			case globAny:
				next |= 1 << i
			}
		}
		if next == 0 {
			return false
		}
		states = closeGlob(next, toks)
	}
	return states&final != 0
}

// closeGlob adds the states reachable without input: a star may match nothing.
func closeGlob(states uint64, toks []globTok) uint64 {
	for i, t := range toks {
		if states&(1<<i) != 0 && (t.op == globStar || t.op == globAny) {
			states |= 1 << (i + 1)
		}
	}
	return states
}
