package policy

// DecideFull decides req evaluating every rule of its protocol, without
// the index: what Decide must always agree with.
func (e *Engine) DecideFull(req *Request) Decision { return e.decideWith(req, false) }

// Candidates returns how many rules the index has Decide evaluate for req.
func (e *Engine) Candidates(req *Request) int { return len(e.index.candidates(req, nil)) }

// FullCandidates returns how many rules apply to req's protocol: what
// Decide would evaluate without the index.
func (e *Engine) FullCandidates(req *Request) int {
	bit, n := protocolBit(req.Protocol), 0
	for _, r := range e.rules {
		if r.protocols == 0 || r.protocols&bit != 0 {
			n++
		}
	}
	return n
}
