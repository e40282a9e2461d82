"""Prints, as JSON, requests boto3 signs with Signature Version 2: presigned
URLs from generate_presigned_url with boto3's defaults, and header-signed
requests (Authorization: AWS key:signature) from a client configured with
signature_version="s3". The clock is fixed at argv[1] (Unix seconds) so the
Go test can verify them at that time; nothing is sent anywhere (a
before-send hook answers every request itself)."""
import json
import sys
import time

NOW = float(sys.argv[1])
KEY_ID, SECRET = sys.argv[2], sys.argv[3]
time.time = lambda: NOW

import boto3  # noqa: E402  (after the clock is fixed)
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.config import Config  # noqa: E402

out = []


def client(endpoint, **cfg):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                        config=Config(**cfg) if cfg else None)


def presign(name, c, op, params, expires=600):
    url = c.generate_presigned_url(op, Params=params, ExpiresIn=expires)
    method = {"put_object": "PUT", "head_object": "HEAD", "delete_object": "DELETE"}.get(op, "GET")
    headers = {}
    if "ContentType" in params:
        headers["Content-Type"] = params["ContentType"]
    out.append({"name": name, "method": method, "url": url, "headers": headers})


KEY = "dir/a b+c é.txt"
path = client("http://127.0.0.1:9000")
presign("presign get", path, "get_object", {"Bucket": "bkt", "Key": KEY})
presign("presign get with response override", path, "get_object",
        {"Bucket": "bkt", "Key": KEY, "ResponseContentType": "text/csv", "ResponseContentDisposition": "attachment; filename=x.csv"})
presign("presign get version", path, "get_object", {"Bucket": "bkt", "Key": "k", "VersionId": "v1/x"})
presign("presign put", path, "put_object", {"Bucket": "bkt", "Key": KEY})
presign("presign put content-type", path, "put_object", {"Bucket": "bkt", "Key": "k.csv", "ContentType": "text/csv"})
presign("presign head", path, "head_object", {"Bucket": "bkt", "Key": "k"})
presign("presign delete", path, "delete_object", {"Bucket": "bkt", "Key": "k"})
presign("presign list", path, "list_objects", {"Bucket": "bkt", "Prefix": "dir/", "Delimiter": "/"})
virtual = client("http://localhost:9000", s3={"addressing_style": "virtual"})
presign("presign virtual-hosted get", virtual, "get_object", {"Bucket": "bkt", "Key": KEY})


def capture(request, **kwargs):
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, bytes):
        body = body.decode()
    out.append({"name": capture.name, "method": request.method, "url": request.url,
                "headers": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()},
                "body": body or ""})
    return AWSResponse(request.url, 200, {}, None)


hdr = client("http://127.0.0.1:9000", signature_version="s3")
hdr.meta.events.register("before-send.s3", capture)
for name, call in [
    ("header get", lambda: hdr.get_object(Bucket="bkt", Key=KEY)),
    ("header put with metadata", lambda: hdr.put_object(Bucket="bkt", Key="k.txt", Body=b"hello",
                                                          ContentType="text/plain", Metadata={"owner": "etl", "b": " x "})),
    ("header get acl", lambda: hdr.get_object_acl(Bucket="bkt", Key="k")),
    ("header list v2", lambda: hdr.list_objects_v2(Bucket="bkt", Prefix="dir/")),
    ("header delete", lambda: hdr.delete_object(Bucket="bkt", Key="k")),
]:
    capture.name = name
    try:
        call()
    except Exception:  # the empty 200 answer does not parse for every operation
        pass

json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
