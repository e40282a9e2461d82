package policy

// DecideFull decides req evaluating every rule of its protocol, without
// the index: what Decide must always agree with.
func (e *Engine) DecideFull(req *Request) Decision { return e.decideWith(req, false) }

// Candidates returns how many rules the index has Decide evaluate for req.
func (e *Engine) Candidates(req *Request) int { return len(e.index.candidates(req, nil)) }
