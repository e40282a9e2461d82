package conformance_test

// s3Actions are the operations Airlock classifies; an allow-all rule names
// them all so that configuration operations, which only a rule naming them
// allows, pass too.
var s3Actions = []string{
	"AbortMultipartUpload", "CompleteMultipartUpload", "CopyObject", "CreateBucket",
	"CreateBucketMetadataConfiguration", "CreateBucketMetadataTableConfiguration", "CreateMultipartUpload", "CreateSession",
	"DeleteBucket", "DeleteBucketAnalyticsConfiguration", "DeleteBucketCors", "DeleteBucketEncryption",
	"DeleteBucketIntelligentTieringConfiguration", "DeleteBucketInventoryConfiguration", "DeleteBucketLifecycle",
	"DeleteBucketMetadataConfiguration", "DeleteBucketMetadataTableConfiguration", "DeleteBucketMetricsConfiguration",
	"DeleteBucketOwnershipControls", "DeleteBucketPolicy", "DeleteBucketReplication", "DeleteBucketTagging",
	"DeleteBucketWebsite", "DeleteObject", "DeleteObjectAnnotation", "DeleteObjectTagging", "DeleteObjects",
	"DeletePublicAccessBlock", "GetBucketAbac", "GetBucketAccelerateConfiguration", "GetBucketAcl",
	"GetBucketAnalyticsConfiguration", "GetBucketCors", "GetBucketEncryption", "GetBucketIntelligentTieringConfiguration",
	"GetBucketInventoryConfiguration", "GetBucketLifecycleConfiguration", "GetBucketLocation", "GetBucketLogging",
	"GetBucketMetadataConfiguration", "GetBucketMetadataTableConfiguration", "GetBucketMetricsConfiguration",
	"GetBucketNotificationConfiguration", "GetBucketOwnershipControls", "GetBucketPolicy", "GetBucketPolicyStatus",
	"GetBucketReplication", "GetBucketRequestPayment", "GetBucketTagging", "GetBucketVersioning", "GetBucketWebsite",
	"GetObject", "GetObjectAcl", "GetObjectAnnotation", "GetObjectAttributes", "GetObjectLegalHold",
	"GetObjectLockConfiguration", "GetObjectRetention", "GetObjectTagging", "GetObjectTorrent", "GetPublicAccessBlock",
	"HeadBucket", "HeadObject", "ListBucketAnalyticsConfigurations", "ListBucketIntelligentTieringConfigurations",
	"ListBucketInventoryConfigurations", "ListBucketMetricsConfigurations", "ListBuckets", "ListMultipartUploads",
	"ListObjectAnnotations", "ListObjectVersions", "ListObjects", "ListObjectsV2", "ListParts", "PutBucketAbac",
	"PutBucketAccelerateConfiguration", "PutBucketAcl", "PutBucketAnalyticsConfiguration", "PutBucketCors",
	"PutBucketEncryption", "PutBucketIntelligentTieringConfiguration", "PutBucketInventoryConfiguration",
	"PutBucketLifecycleConfiguration", "PutBucketLogging", "PutBucketMetricsConfiguration",
	"PutBucketNotificationConfiguration", "PutBucketOwnershipControls", "PutBucketPolicy", "PutBucketReplication",
	"PutBucketRequestPayment", "PutBucketTagging", "PutBucketVersioning", "PutBucketWebsite", "PutObject",
	"PutObjectAcl", "PutObjectAnnotation", "PutObjectLegalHold", "PutObjectLockConfiguration", "PutObjectRetention",
	"PutObjectTagging", "PutPublicAccessBlock", "RestoreObject", "SelectObjectContent",
	"UpdateBucketMetadataAnnotationTableConfiguration", "UpdateBucketMetadataInventoryTableConfiguration",
	"UpdateBucketMetadataJournalTableConfiguration", "UpdateObjectEncryption", "UploadPart", "UploadPartCopy",
}

// s3ConfigHeaders are the headers that configure more than an object's
// bytes; only a rule naming them allows a request carrying one.
var s3ConfigHeaders = []string{
	"x-amz-acl", "x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write",
	"x-amz-grant-write-acp", "x-amz-tagging", "x-amz-tagging-directive", "x-amz-storage-class",
	"x-amz-website-redirect-location", "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
	"x-amz-object-lock-legal-hold", "x-amz-bypass-governance-retention", "x-amz-server-side-encryption",
	"x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-context",
	"x-amz-server-side-encryption-bucket-key-enabled", "x-amz-server-side-encryption-customer-algorithm",
	"x-amz-server-side-encryption-customer-key", "x-amz-server-side-encryption-customer-key-md5",
	"x-amz-copy-source-server-side-encryption-customer-algorithm",
	"x-amz-copy-source-server-side-encryption-customer-key",
	"x-amz-copy-source-server-side-encryption-customer-key-md5",
	"x-amz-bucket-object-lock-enabled", "x-amz-object-ownership",
}
