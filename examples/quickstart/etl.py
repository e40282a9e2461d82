"""A sample ETL task: read the sales schema, write a CSV to the lake.

It knows nothing of Airlock: it uses the standard PG* and AWS_* variables,
which `airlock exec` points at Airlock with throwaway local secrets.
"""
import csv, io, os, sys

import boto3, botocore, psycopg2

date = os.environ.get("RUN_DATE", "2026-11-22")
print(f"etl: connecting to PostgreSQL at {os.environ['PGHOST']}:{os.environ['PGPORT']} and S3 at {os.environ['AWS_ENDPOINT_URL']}")
conn = psycopg2.connect("")
cur = conn.cursor()
cur.execute("SELECT region, count(*), sum(amount) FROM orders GROUP BY region ORDER BY region")
rows = cur.fetchall()
print(f"etl: read {len(rows)} regions from sales.orders")

buf = io.StringIO()
w = csv.writer(buf)
w.writerow(["region", "orders", "revenue"])
w.writerows(rows)
# Older SDKs (Debian's boto3 1.26) ignore AWS_ENDPOINT_URL: pass it on.
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
key = f"curated/{date}/orders_by_region.csv"
s3.put_object(Bucket="lake", Key=key, Body=buf.getvalue().encode())
print(f"etl: wrote s3://lake/{key} ({len(buf.getvalue())} bytes)")

# Two things this task must not do.
try:
    cur.execute("SELECT email FROM customers_pii LIMIT 1")
    print("etl: UNEXPECTED: read the PII table")
    sys.exit(1)
except psycopg2.Error as e:
    conn.rollback()
    print(f"etl: denied as expected: {e.pgcode} {e.diag.message_primary}")
try:
    s3.put_object(Bucket="lake", Key="raw/orders_dump.csv", Body=b"nope")
    print("etl: UNEXPECTED: wrote outside curated/")
    sys.exit(1)
except botocore.exceptions.ClientError as e:
    print(f"etl: denied as expected: {e.response['Error']['Code']} {e.response['Error']['Message']}")
print("etl: done")
