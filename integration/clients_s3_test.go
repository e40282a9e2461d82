package integration_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestS3PresignedSigV2Boto3: the presigned URLs boto3 makes by default
// (Signature Version 2: AWSAccessKeyId, Signature, Expires) work through
// Airlock against MinIO for GET and PUT, and so do requests signed with
// "Authorization: AWS key:signature" (signature_version="s3"). An expired
// URL, a wrong signature and a URL for an object no rule allows are
// refused with S3's error codes, the last one naming why.
func TestS3PresignedSigV2Boto3(t *testing.T) {
	needTool(t, "python3", "-c", "import boto3")
	r := newS3Rig(t, false)
	script := writeFile(t, filepath.Join(r.dir, "presign.py"), `
import http.client, os, ssl, time, urllib.parse, xml.etree.ElementTree as ET
import boto3, botocore
from botocore.config import Config

ctx = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])

def fetch(url, method="GET", data=None, headers={}):
    # http.client sends only the headers given (urllib would add a
    # Content-Type the URL was not signed with).
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
    c.request(method, u.path + "?" + u.query, body=data, headers=headers)
    resp = c.getresponse()
    body = resp.read().decode()
    c.close()
    if resp.status < 300:
        return resp.status, body
    if not body:
        return resp.status, "(no body)"
    err = ET.fromstring(body)
    return resp.status, err.findtext("Code") + ": " + err.findtext("Message")

get = s3.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "raw/a.csv"}, ExpiresIn=300)
print("sigv2 url", "AWSAccessKeyId=" in get and "Signature=" in get and "X-Amz-" not in get)
print("get", *fetch(get))
put = s3.generate_presigned_url("put_object", Params={"Bucket": "lake", "Key": "curated/presigned.csv"}, ExpiresIn=300)
print("put", *fetch(put, "PUT", b"x,y\n1,2\n"))
typed = s3.generate_presigned_url("put_object", Params={"Bucket": "lake", "Key": "curated/typed.csv", "ContentType": "text/csv"}, ExpiresIn=300)
print("put typed", *fetch(typed, "PUT", b"t\n", {"Content-Type": "text/csv"}))
print("head", fetch(s3.generate_presigned_url("head_object", Params={"Bucket": "lake", "Key": "raw/a.csv"}), "HEAD")[0])

print("denied get", *fetch(s3.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "secret/s.csv"})))
print("denied put", *fetch(s3.generate_presigned_url("put_object", Params={"Bucket": "lake", "Key": "raw/new.csv"}), "PUT", b"no"))
bad = get.replace("Signature=", "Signature=A", 1)
print("tampered", *fetch(bad))
print("other key", *fetch(get.replace("raw/a.csv", "raw/2026/b.csv")))
short = s3.generate_presigned_url("get_object", Params={"Bucket": "lake", "Key": "raw/a.csv"}, ExpiresIn=1)
time.sleep(2.5)
print("expired", *fetch(short))

v2 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], config=Config(signature_version="s3"))
v2.put_object(Bucket="lake", Key="curated/v2-header.csv", Body=b"header form\n", ContentType="text/csv", Metadata={"owner": "etl"})
print("header get", v2.get_object(Bucket="lake", Key="raw/a.csv")["Body"].read().decode().strip())
try:
    v2.get_object(Bucket="lake", Key="secret/s.csv")
    print("NOT DENIED")
except botocore.exceptions.ClientError as e:
    print("header denied", e.response["Error"]["Code"], e.response["Error"]["Message"])
`)
	out, err := r.shell(t, "python3 "+script)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustContain(t, "boto3 presigned", out,
		"sigv2 url True",
		"get 200 seed raw/a.csv",
		"put 200 \n",
		"put typed 200",
		"head 200",
		"denied get 403 AccessDenied: airlock: no rule allows",
		"denied put 403 AccessDenied: airlock: no rule allows",
		"tampered 403 SignatureDoesNotMatch",
		"other key 403 SignatureDoesNotMatch",
		"expired 403 AccessDenied: Request has expired",
		"header get seed raw/a.csv",
		"header denied AccessDenied airlock: no rule allows",
	)
	for key, want := range map[string]string{"curated/presigned.csv": "x,y\n1,2\n", "curated/typed.csv": "t\n", "curated/v2-header.csv": "header form\n"} {
		if got, ok := r.object(t, key); !ok || string(got) != want {
			t.Errorf("%s in MinIO: %q %v", key, got, ok)
		}
	}
	if _, ok := r.object(t, "raw/new.csv"); ok {
		t.Error("the denied presigned PUT reached MinIO")
	}
	if strings.Contains(out, r.minio.SecretKey) {
		t.Error("the upstream secret is in the task's output")
	}
}

// TestS3DenialReasonBoto3: boto3 shows why Airlock denied a request: a
// GET's ClientError carries AccessDenied and the reason; a HEAD's (no
// body) carries the request id and, in its response headers, the code and
// the reason; and an unsigned retry of a denied read, as pandas makes over
// s3fs (anon=True), is told why the signed request was denied.
func TestS3DenialReasonBoto3(t *testing.T) {
	needTool(t, "python3", "-c", "import boto3")
	r := newS3Rig(t, false)
	script := writeFile(t, filepath.Join(r.dir, "denied.py"), `
import os, boto3, botocore
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
try:
    s3.get_object(Bucket="lake", Key="secret/s.csv")
except botocore.exceptions.ClientError as e:
    print("get", e.response["Error"]["Code"], "|", e.response["Error"]["Message"])
try:
    s3.head_object(Bucket="lake", Key="secret/s.csv")
except botocore.exceptions.ClientError as e:
    h = e.response["ResponseMetadata"]["HTTPHeaders"]
    print("head", e.response["Error"]["Code"], "| id", bool(e.response["ResponseMetadata"]["RequestId"]),
          "|", h.get("x-amz-error-code"), "|", h.get("x-amz-error-message"))
anon = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], config=Config(signature_version=botocore.UNSIGNED))
try:
    anon.get_object(Bucket="lake", Key="secret/s.csv")
except botocore.exceptions.ClientError as e:
    print("anonymous", e.response["Error"]["Code"], "|", e.response["Error"]["Message"])
`)
	out, err := r.shell(t, "python3 "+script)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mustContain(t, "boto3 denials", out,
		"get AccessDenied | airlock: no rule allows",
		"head 403 | id True | AccessDenied | airlock: no rule allows",
		"anonymous AccessDenied | Anonymous access is not allowed; sign the request with the local key; the last signed request for lake/secret/s.csv was denied: airlock: no rule allows (request id ",
	)
}

// TestS3SigV2CLIs: the presigned URLs `aws s3 presign` (CLI v1) and
// `s3cmd signurl` make (Signature Version 2), fetched with curl, and s3cmd
// signing its requests with Signature Version 2 headers (signature_v2).
func TestS3SigV2CLIs(t *testing.T) {
	needTool(t, "aws", "--version")
	needTool(t, "s3cmd", "--version")
	needTool(t, "curl", "--version")
	r := newS3Rig(t, false)
	host := strings.TrimPrefix(r.endpoint, "https://")
	writeFile(t, filepath.Join(r.dir, "s3cfg"), "[default]\naccess_key = "+r.keyID+"\nsecret_key = "+r.key+
		"\nhost_base = "+host+"\nhost_bucket = "+host+"\nuse_https = True\nca_certs_file = "+r.caFile+
		"\ncheck_ssl_certificate = True\nsignurl_use_https = True\nsignature_v2 = True\n")
	writeFile(t, filepath.Join(r.dir, "up.csv"), "from s3cmd\n")
	for _, step := range []struct{ script, want string }{
		{`url=$(aws s3 presign s3://lake/raw/a.csv --expires-in 300) && case "$url" in *AWSAccessKeyId=*Signature=*) ;; *) echo "not SigV2: $url"; exit 1;; esac && curl -fsS --cacert "$AWS_CA_BUNDLE" "$url"`, "seed raw/a.csv"},
		{`url=$(s3cmd -c s3cfg signurl s3://lake/raw/2026/b.csv +300) && curl -fsS --cacert "$AWS_CA_BUNDLE" "$url"`, "seed raw/2026/b.csv"},
		{`url=$(s3cmd -c s3cfg signurl s3://lake/secret/s.csv +300) && curl -sS --cacert "$AWS_CA_BUNDLE" "$url"`, "<Code>AccessDenied</Code><Message>airlock: no rule allows</Message>"},
		{`s3cmd -c s3cfg get s3://lake/raw/a.csv -`, "seed raw/a.csv"},
		{`s3cmd -c s3cfg put up.csv s3://lake/curated/s3cmd.csv`, "upload: 'up.csv' -> 's3://lake/curated/s3cmd.csv'"},
		{`s3cmd -c s3cfg get s3://lake/secret/s.csv - || echo "exit $?"`, "ERROR: S3 error: 403"},
	} {
		out, err := r.shell(t, step.script)
		if err != nil || !strings.Contains(out, step.want) {
			t.Errorf("%s: %v, want %q in:\n%s", step.script, err, step.want, out)
		}
	}
	if got, ok := r.object(t, "curated/s3cmd.csv"); !ok || string(got) != "from s3cmd\n" {
		t.Errorf("s3cmd put: %q %v", got, ok)
	}
}
