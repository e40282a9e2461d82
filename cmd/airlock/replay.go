package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/airlockproxy/airlock/policy"
	"github.com/airlockproxy/airlock/protocols/postgres"
	"github.com/airlockproxy/airlock/protocols/s3"
	"github.com/airlockproxy/airlock/proxy"
)

// cmdPolicyReplay decides every decision recorded in an audit log again,
// with the configured rules, and prints those that would come out
// differently (the enforce-mode verdict on both sides: a recorded
// would-deny counts as a deny). Exit 1 when any would.
//
// A record is rebuilt from what it holds: a PostgreSQL statement is
// classified again from its normalised text (with the config's search_path
// and database), an S3 request from its action and resources, an egress
// (http) request from its method and host:port/path. What a
// record cannot give back is skipped, with the reason counted: guard rails
// and denials that no rule made (the audit log down, the deadline), a
// statement cut at 4 KiB, an EXECUTE (the prepared statement's tables are
// merged into the record's resources, not its text). task.labels are the
// config's; conn.application_name and s3.version_id are not recorded and
// replay as empty.
func cmdPolicyReplay(args []string, stdout, stderr io.Writer) (int, error) {
	cfg, engine, files, code, err := compileConfig("airlock policy replay", args, stderr, true)
	if err != nil {
		return code, err
	}
	if len(files) != 1 {
		return 2, usageError{errors.New("policy replay needs one audit log: airlock policy replay -c airlock.yaml audit.jsonl")}
	}
	rp := replayer{cfg: cfg, classifier: replayClassifier(cfg)}
	skipped := map[string]int{}
	replayed, changed := 0, 0
	err = eachDecision(files[0], func(_ int, r *summaryRecord) {
		req, why := rp.request(r)
		if why != "" {
			skipped[why]++
			return
		}
		d := engine.Decide(&req)
		replayed++
		was, now := "allow", "allow"
		if r.Decision == "deny" || r.WouldDeny {
			was = "deny"
		}
		if !d.Allow {
			now = "deny"
		}
		if was != now {
			changed++
			fmt.Fprintf(stdout, "seq %d %s %s %s: was %s (%s), now %s (%s)\n", r.Seq, r.Protocol, r.Action,
				strings.Join(r.Resources, " "), was, r.Reason, now, d.Reason)
		}
	})
	if errors.Is(err, errUsage) {
		return 2, err
	}
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stdout, "%d decisions replayed, %d would change", replayed, changed)
	if len(skipped) > 0 {
		var parts []string
		for why, n := range skipped {
			parts = append(parts, fmt.Sprintf("%d %s", n, why))
		}
		slices.Sort(parts)
		fmt.Fprintf(stdout, "; skipped: %s", strings.Join(parts, ", "))
	}
	fmt.Fprintln(stdout)
	if changed > 0 {
		return 1, nil
	}
	return 0, nil
}

// replayClassifier classifies statements as the configured PostgreSQL
// path would: with its pinned search_path (default public) and database.
func replayClassifier(cfg *proxy.Config) *postgres.Classifier {
	searchPath, database := []string{"public"}, ""
	if p := cfg.Postgres; p != nil {
		database = p.Upstream.Database
		if sp := p.Session["search_path"]; sp != "" {
			searchPath = nil
			for _, s := range strings.Split(sp, ",") {
				searchPath = append(searchPath, strings.Trim(strings.TrimSpace(s), `"`))
			}
		}
	}
	return postgres.NewClassifier(searchPath, database)
}

// listings are the S3 operations whose resource is bucket/prefix.
var listings = map[string]bool{"ListObjectsV2": true, "ListObjects": true, "ListObjectVersions": true, "ListMultipartUploads": true}

type replayer struct {
	cfg        *proxy.Config
	classifier *postgres.Classifier
}

// request rebuilds the policy request of a decision record, or says why
// it cannot.
func (rp *replayer) request(r *summaryRecord) (policy.Request, string) {
	req := policy.Request{
		Protocol: r.Protocol,
		Task:     policy.Task{ID: r.Task, Labels: rp.cfg.Task.Labels},
		Conn:     policy.Conn{ID: r.Conn, Protocol: r.Protocol, Client: r.Client, User: r.User},
	}
	if t, err := time.Parse(time.RFC3339Nano, r.Time); err == nil {
		req.Now = t
	}
	switch {
	case strings.HasPrefix(r.Reason, "guard rail: "):
		return req, "guard rails (no rule decides them)"
	case r.Decision == "deny" && len(r.Rules) == 0 && r.Reason != policy.ReasonNoRule && !strings.HasPrefix(r.Reason, "no rule names "):
		return req, "denials no rule made (audit log down, deadline, request bounds)"
	case strings.HasPrefix(r.Reason, "no matching rule names "):
		return req, "denials for S3 configuration headers (the record does not keep headers)"
	}
	switch r.Protocol {
	case policy.ProtocolPostgres:
		if r.StatementTruncated {
			return req, "statements cut at 4 KiB"
		}
		sts, err := rp.classifier.Classify(r.Statement)
		if err != nil || len(sts) != 1 {
			return req, "statements that do not classify again"
		}
		st := sts[0]
		if st.Execute != "" {
			return req, "EXECUTEs (the prepared statement is not in the record)"
		}
		req.SQL, req.Guard = st.SQL, st.Guard
		if req.Guard != "" {
			return req, "guard rails (no rule decides them)"
		}
	case policy.ProtocolS3:
		req.S3.Action = r.Action
		req.NamedOnly = s3.NamedOnly(r.Action)
		res := r.Resources
		if (r.Action == "CopyObject" || r.Action == "UploadPartCopy") && len(res) == 2 {
			req.S3.SourceBucket, req.S3.SourceKey, _ = strings.Cut(res[0], "/")
			res = res[1:]
		}
		if len(res) > 0 {
			bucket, rest, _ := strings.Cut(res[0], "/")
			req.S3.Bucket = bucket
			if listings[r.Action] {
				req.S3.Prefix = rest
			} else {
				req.S3.Key = rest
			}
		}
	case policy.ProtocolHTTP:
		req.HTTP.Method = r.Action
		if len(r.Resources) != 1 {
			return req, "http records without a target"
		}
		authority, path, _ := strings.Cut(r.Resources[0], "/")
		host, port, err := net.SplitHostPort(authority)
		if err != nil {
			return req, "http records without a target"
		}
		if req.HTTP.Port, err = strconv.Atoi(port); err != nil {
			return req, "http records without a target"
		}
		req.HTTP.Host = host
		if r.Action != "CONNECT" {
			req.HTTP.Path = "/" + path
		}
	default:
		return req, "other protocols"
	}
	return req, ""
}
