package s3

import (
	"net/http"
	"sync"
	"time"
)

// Some clients answer a denial by retrying without signing (pandas retries
// an s3fs read with anon=True), and show the user only the second answer:
// "anonymous access is not allowed". recentDenials remembers the last
// policy denial per object for a few minutes so that the anonymous retry's
// error says what denied the signed request.
type recentDenials struct {
	mu sync.Mutex
	m  map[string]denialNote
}

type denialNote struct {
	reason, requestID string
	at                time.Time
}

const (
	denialMemory   = 5 * time.Minute
	maxDenialNotes = 256
)

// note records a denial of bucket/key.
func (d *recentDenials) note(bucket, key, reason, requestID string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[string]denialNote)
	}
	if len(d.m) >= maxDenialNotes {
		for k, n := range d.m { // drop what has expired, else everything
			if now.Sub(n.at) > denialMemory {
				delete(d.m, k)
			}
		}
		if len(d.m) >= maxDenialNotes {
			clear(d.m)
		}
	}
	d.m[bucket+"/"+key] = denialNote{reason: reason, requestID: requestID, at: now}
}

// explain returns, for an unsigned request refused with msg, msg plus the
// reason the last signed request for the same object was denied, if any.
func (d *recentDenials) explain(r *http.Request, hostSuffixes []string, msg string, now time.Time) string {
	if len(r.Header["Authorization"]) > 0 {
		return msg
	}
	q := r.URL.Query()
	for _, k := range []string{"X-Amz-Signature", "X-Amz-Algorithm", "Signature", "AWSAccessKeyId"} {
		if q.Has(k) {
			return msg
		}
	}
	op, err := Classify(r, hostSuffixes)
	if err != nil || op.S3.Bucket == "" {
		return msg
	}
	d.mu.Lock()
	n, ok := d.m[op.S3.Bucket+"/"+op.S3.Key]
	d.mu.Unlock()
	if !ok || now.Sub(n.at) > denialMemory {
		return msg
	}
	return msg + "; the last signed request for " + limit(op.S3.Bucket+"/"+op.S3.Key) + " was denied: airlock: " + n.reason + " (request id " + n.requestID + ")"
}
