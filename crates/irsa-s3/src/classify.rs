//! REST request → S3 operation → the checks IAM must allow.
//!
//! Unknown subresources and methods are refused here (501 `NotImplemented`)
//! so that the gateway can never forward a request it did not authorize:
//! every query parameter must be one the operation documents (S3's service
//! model), `x-id`, or an `X-Amz-*` parameter (presigning, hoisted headers).

use http::{HeaderMap, Method};

use crate::address::{
    percent_decode_strict, resolve_target, Addressing, AddressingConfig, RequestInput,
};
use crate::authz::{single, AuthContext, AuthorizationRequest};
use crate::delete_objects::DeleteObjectsRequest;
use crate::error::{S3Error, S3ErrorCode};
use crate::names::{bucket_arn, object_arn, BucketName, ObjectKey, ObjectRef};
use crate::tagging::{parse_tagging_header, request_tag_keys, Tag};

/// The S3 operations the gateway supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    GetObject,
    HeadObject,
    PutObject,
    DeleteObject,
    DeleteObjects,
    CopyObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    PutBucketPolicy,
    GetBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
}

impl Operation {
    pub const ALL: [Operation; 28] = [
        Operation::ListBuckets,
        Operation::CreateBucket,
        Operation::DeleteBucket,
        Operation::HeadBucket,
        Operation::GetBucketLocation,
        Operation::ListObjects,
        Operation::ListObjectsV2,
        Operation::ListObjectVersions,
        Operation::GetObject,
        Operation::HeadObject,
        Operation::PutObject,
        Operation::DeleteObject,
        Operation::DeleteObjects,
        Operation::CopyObject,
        Operation::CreateMultipartUpload,
        Operation::UploadPart,
        Operation::UploadPartCopy,
        Operation::CompleteMultipartUpload,
        Operation::AbortMultipartUpload,
        Operation::ListParts,
        Operation::ListMultipartUploads,
        Operation::GetObjectTagging,
        Operation::PutObjectTagging,
        Operation::DeleteObjectTagging,
        Operation::PutBucketPolicy,
        Operation::GetBucketPolicy,
        Operation::DeleteBucketPolicy,
        Operation::GetBucketPolicyStatus,
    ];

    /// The S3 API name (also the `operation` metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::ListBuckets => "ListBuckets",
            Operation::CreateBucket => "CreateBucket",
            Operation::DeleteBucket => "DeleteBucket",
            Operation::HeadBucket => "HeadBucket",
            Operation::GetBucketLocation => "GetBucketLocation",
            Operation::ListObjects => "ListObjects",
            Operation::ListObjectsV2 => "ListObjectsV2",
            Operation::ListObjectVersions => "ListObjectVersions",
            Operation::GetObject => "GetObject",
            Operation::HeadObject => "HeadObject",
            Operation::PutObject => "PutObject",
            Operation::DeleteObject => "DeleteObject",
            Operation::DeleteObjects => "DeleteObjects",
            Operation::CopyObject => "CopyObject",
            Operation::CreateMultipartUpload => "CreateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::UploadPartCopy => "UploadPartCopy",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::ListParts => "ListParts",
            Operation::ListMultipartUploads => "ListMultipartUploads",
            Operation::GetObjectTagging => "GetObjectTagging",
            Operation::PutObjectTagging => "PutObjectTagging",
            Operation::DeleteObjectTagging => "DeleteObjectTagging",
            Operation::PutBucketPolicy => "PutBucketPolicy",
            Operation::GetBucketPolicy => "GetBucketPolicy",
            Operation::DeleteBucketPolicy => "DeleteBucketPolicy",
            Operation::GetBucketPolicyStatus => "GetBucketPolicyStatus",
        }
    }

    /// Bucket policy operations are answered by irsa from its store and
    /// never forwarded.
    pub fn is_answered_by_gateway(self) -> bool {
        matches!(
            self,
            Operation::PutBucketPolicy
                | Operation::GetBucketPolicy
                | Operation::DeleteBucketPolicy
                | Operation::GetBucketPolicyStatus
        )
    }

    /// What the gateway must do with the request body before authorizing.
    pub fn body_handling(self) -> BodyHandling {
        match self {
            Operation::PutObjectTagging => BodyHandling::ParseTagging,
            Operation::DeleteObjects => BodyHandling::ParseDeleteObjects,
            Operation::PutBucketPolicy => BodyHandling::BucketPolicy,
            _ => BodyHandling::Forward,
        }
    }

    /// The query parameters the operation documents (S3 service model),
    /// besides the subresource that selects it.
    fn allowed_params(self) -> &'static [&'static str] {
        const GET_OBJECT: &[&str] = &[
            "response-cache-control",
            "response-content-disposition",
            "response-content-encoding",
            "response-content-language",
            "response-content-type",
            "response-expires",
            "versionId",
            "partNumber",
        ];
        match self {
            Operation::ListBuckets => &[
                "max-buckets",
                "continuation-token",
                "prefix",
                "bucket-region",
            ],
            Operation::ListObjects => {
                &["delimiter", "encoding-type", "marker", "max-keys", "prefix"]
            }
            Operation::ListObjectsV2 => &[
                "list-type",
                "delimiter",
                "encoding-type",
                "max-keys",
                "prefix",
                "continuation-token",
                "fetch-owner",
                "start-after",
            ],
            Operation::ListObjectVersions => &[
                "versions",
                "delimiter",
                "encoding-type",
                "key-marker",
                "max-keys",
                "prefix",
                "version-id-marker",
            ],
            Operation::ListMultipartUploads => &[
                "uploads",
                "delimiter",
                "encoding-type",
                "key-marker",
                "max-uploads",
                "prefix",
                "upload-id-marker",
            ],
            Operation::GetBucketLocation => &["location"],
            Operation::GetObject | Operation::HeadObject => GET_OBJECT,
            Operation::DeleteObject => &["versionId"],
            Operation::DeleteObjects => &["delete"],
            Operation::CreateMultipartUpload => &["uploads"],
            Operation::UploadPart | Operation::UploadPartCopy => &["partNumber", "uploadId"],
            Operation::CompleteMultipartUpload | Operation::AbortMultipartUpload => &["uploadId"],
            Operation::ListParts => &["uploadId", "max-parts", "part-number-marker"],
            Operation::GetObjectTagging
            | Operation::PutObjectTagging
            | Operation::DeleteObjectTagging => &["tagging", "versionId"],
            Operation::PutBucketPolicy
            | Operation::GetBucketPolicy
            | Operation::DeleteBucketPolicy => &["policy"],
            Operation::GetBucketPolicyStatus => &["policyStatus"],
            Operation::CreateBucket
            | Operation::DeleteBucket
            | Operation::HeadBucket
            | Operation::PutObject
            | Operation::CopyObject => &[],
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the gateway does with the body before it can authorize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyHandling {
    /// Nothing: authorize now, then stream the body to the upstream.
    Forward,
    /// Buffer at most [`TAGGING_BODY_LIMIT`](crate::TAGGING_BODY_LIMIT),
    /// [`parse_tagging_xml`](crate::parse_tagging_xml) it, call
    /// [`S3Request::attach_tagging_body`], then authorize and forward the buffer.
    ParseTagging,
    /// Buffer at most [`DELETE_OBJECTS_BODY_LIMIT`](crate::DELETE_OBJECTS_BODY_LIMIT),
    /// parse with [`DeleteObjectsRequest::parse`], authorize each key with
    /// [`S3Request::delete_objects_authorization`], forward only the allowed
    /// keys ([`DeleteObjectsRequest::to_xml`]) and merge the denied ones
    /// into the result ([`merge_delete_result`](crate::merge_delete_result)).
    ParseDeleteObjects,
    /// Buffer at most [`BUCKET_POLICY_MAX_BYTES`](crate::BUCKET_POLICY_MAX_BYTES)
    /// and store it (after authorization and validation); never forwarded.
    BucketPolicy,
}

/// The source of CopyObject / UploadPartCopy (`x-amz-copy-source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub version_id: Option<String>,
}

impl CopySource {
    /// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, the
    /// bucket and key URL-encoded (decoded here exactly once).
    pub fn parse(header: &str) -> Result<Self, S3Error> {
        let invalid = || {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            )
            .with_detail("ArgumentName", "x-amz-copy-source")
            .with_detail("ArgumentValue", header)
        };
        let trimmed = header.strip_prefix('/').unwrap_or(header);
        // An encoded key has `?` as %3F, so the first raw `?` starts the query.
        let (raw_path, raw_query) = match trimmed.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (trimmed, None),
        };
        let decoded = String::from_utf8(percent_decode_strict(raw_path).map_err(|_| invalid())?)
            .map_err(|_| invalid())?;
        let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
        let bucket = BucketName::parse(bucket).map_err(|_| invalid())?;
        let key = ObjectKey::new(key)?;
        let mut version_id = None;
        if let Some(query) = raw_query {
            for (name, value) in form_urlencoded::parse(query.as_bytes()) {
                if name != "versionId" || version_id.is_some() || value.is_empty() {
                    return Err(invalid());
                }
                version_id = Some(value.into_owned());
            }
        }
        Ok(Self {
            bucket,
            key,
            version_id,
        })
    }

    /// The value of `s3:x-amz-copy-source`: `bucket/key`, decoded (the form
    /// AWS's policy examples match, e.g. `"amzn-s3-demo-bucket/public/*"`).
    pub fn condition_value(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    fn object(&self) -> ObjectRef {
        ObjectRef {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
        }
    }
}

/// A classified request: what it is, what it addresses, and what IAM must
/// allow (see [`authorization`](Self::authorization)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Request {
    pub operation: Operation,
    pub addressing: Addressing,
    pub bucket: Option<BucketName>,
    pub key: Option<ObjectKey>,
    /// `versionId` of the request (object operations).
    pub version_id: Option<String>,
    pub copy_source: Option<CopySource>,
    /// Tags the request sets through `x-amz-tagging` (PutObject,
    /// CreateMultipartUpload, CopyObject with `x-amz-tagging-directive: REPLACE`).
    pub request_tags: Option<Vec<Tag>>,
    /// Tags from the PutObjectTagging body, once attached.
    body_tags: Option<Vec<Tag>>,
    /// `x-amz-content-sha256`, for `s3:x-amz-content-sha256`.
    content_sha256: Option<String>,
    /// The checks, without the connection keys of [`AuthContext`].
    checks: Vec<AuthorizationRequest>,
}

/// The query string, decoded (`+` is a space here, as in HTML forms and
/// as S3's own parsers read it), each name at most once.
struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Result<Self, S3Error> {
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if params.iter().any(|(n, _)| *n == name) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("The query parameter {name} was given more than once"),
                ));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self { params })
    }

    fn has(&self, name: &str) -> bool {
        self.params.iter().any(|(n, _)| n == name)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A hoisted `x-amz-*` header in a presigned URL (case-insensitive).
    fn hoisted(&self, header: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(header))
            .map(|(_, v)| v.as_str())
    }

    /// Refuses parameters the operation does not document, so an unknown
    /// subresource (`?acl`, `?cors`, `?select`…) is never forwarded.
    fn check_allowed(&self, operation: Operation) -> Result<(), S3Error> {
        let allowed = operation.allowed_params();
        for (name, _) in &self.params {
            let generic = name == "x-id"
                || name
                    .get(..6)
                    .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"));
            if !generic && !allowed.contains(&name.as_str()) {
                return Err(S3Error::not_implemented(format!(
                    "The {name} subresource or parameter is not supported by this gateway for {operation}"
                )));
            }
        }
        Ok(())
    }
}

/// Header access for classification: one value per name (a repeated header
/// that changes authorization is refused rather than guessed), falling back
/// to a presigned URL's hoisted `x-amz-*` query parameter.
struct Headers<'a> {
    map: &'a HeaderMap,
    query: &'a Query,
}

impl Headers<'_> {
    fn get(&self, name: &str) -> Result<Option<String>, S3Error> {
        let mut values = self.map.get_all(name).iter();
        let header = match (values.next(), values.next()) {
            (None, _) => None,
            (Some(v), None) => Some(
                std::str::from_utf8(v.as_bytes())
                    .map_err(|_| {
                        S3Error::new(
                            S3ErrorCode::InvalidArgument,
                            format!("Header {name} is not valid UTF-8"),
                        )
                    })?
                    .to_owned(),
            ),
            (Some(_), Some(_)) => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("Header {name} was given more than once"),
                ))
            }
        };
        let hoisted = if name.starts_with("x-amz-") {
            self.query.hoisted(name)
        } else {
            None
        };
        match (header, hoisted) {
            (Some(h), Some(q)) if h != q => Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("{name} differs between the header and the query string"),
            )),
            (Some(h), _) => Ok(Some(h)),
            (None, q) => Ok(q.map(str::to_owned)),
        }
    }
}

/// Request headers that S3 exposes as condition keys of object writes
/// (`s3:<header>`), all defined for s3:PutObject.
const PUT_OBJECT_HEADER_KEYS: [(&str, &str); 15] = [
    ("x-amz-acl", "s3:x-amz-acl"),
    ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
    ("x-amz-grant-read", "s3:x-amz-grant-read"),
    ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
    ("x-amz-grant-write", "s3:x-amz-grant-write"),
    ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
    (
        "x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption",
    ),
    (
        "x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    (
        "x-amz-server-side-encryption-customer-algorithm",
        "s3:x-amz-server-side-encryption-customer-algorithm",
    ),
    ("x-amz-storage-class", "s3:x-amz-storage-class"),
    (
        "x-amz-website-redirect-location",
        "s3:x-amz-website-redirect-location",
    ),
    ("x-amz-object-lock-mode", "s3:object-lock-mode"),
    (
        "x-amz-object-lock-retain-until-date",
        "s3:object-lock-retain-until-date",
    ),
    ("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"),
    ("if-none-match", "s3:if-none-match"),
];

/// ACL headers: a write that sets an ACL also needs s3:PutObjectAcl.
const ACL_HEADERS: [&str; 6] = [
    "x-amz-acl",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
];

/// Classifies a request. `Err` is the S3 error to answer (never forward):
/// 501 `NotImplemented` for anything unsupported, 400s for bad names,
/// keys, query strings and copy sources.
pub fn classify(config: &AddressingConfig, input: &RequestInput<'_>) -> Result<S3Request, S3Error> {
    let target = resolve_target(config, input.host, input.path)?;
    let query = Query::parse(input.query)?;
    let headers = Headers {
        map: input.headers,
        query: &query,
    };
    let operation = select_operation(
        input.method,
        target.bucket.as_ref(),
        target.key.as_ref(),
        &query,
        &headers,
    )?;
    query.check_allowed(operation)?;
    let version_id = match query.get("versionId") {
        Some("") => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Version id cannot be the empty string",
            )
            .with_detail("ArgumentName", "versionId"))
        }
        other => other.map(str::to_owned),
    };
    let copy_source = if matches!(operation, Operation::CopyObject | Operation::UploadPartCopy) {
        let header = headers.get("x-amz-copy-source")?.unwrap_or_default();
        Some(CopySource::parse(&header)?)
    } else {
        None
    };
    let mut request = S3Request {
        operation,
        addressing: target.addressing,
        bucket: target.bucket,
        key: target.key,
        version_id,
        copy_source,
        request_tags: None,
        body_tags: None,
        content_sha256: None,
        checks: Vec::new(),
    };
    request.plan(&query, &headers)?;
    Ok(request)
}

fn select_operation(
    method: &Method,
    bucket: Option<&BucketName>,
    key: Option<&ObjectKey>,
    query: &Query,
    headers: &Headers<'_>,
) -> Result<Operation, S3Error> {
    let unsupported = || {
        S3Error::not_implemented(format!(
            "{method} on this resource is not supported by this gateway"
        ))
    };
    let has = |name: &str| query.has(name);
    let operation = match (bucket, key) {
        (None, _) => match *method {
            Method::GET => Operation::ListBuckets,
            _ => return Err(unsupported()),
        },
        (Some(_), None) => match *method {
            Method::GET if has("policyStatus") => Operation::GetBucketPolicyStatus,
            Method::GET if has("policy") => Operation::GetBucketPolicy,
            Method::GET if has("location") => Operation::GetBucketLocation,
            Method::GET if has("versions") => Operation::ListObjectVersions,
            Method::GET if has("uploads") => Operation::ListMultipartUploads,
            Method::GET => match query.get("list-type") {
                None => Operation::ListObjects,
                Some("2") => Operation::ListObjectsV2,
                Some(_) => {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        "Invalid List Type specified",
                    )
                    .with_detail("ArgumentName", "list-type"))
                }
            },
            Method::HEAD => Operation::HeadBucket,
            Method::PUT if has("policy") => Operation::PutBucketPolicy,
            Method::PUT => Operation::CreateBucket,
            Method::DELETE if has("policy") => Operation::DeleteBucketPolicy,
            Method::DELETE => Operation::DeleteBucket,
            Method::POST if has("delete") => Operation::DeleteObjects,
            _ => return Err(unsupported()),
        },
        (Some(_), Some(_)) => {
            let copy = headers.get("x-amz-copy-source")?.is_some();
            match *method {
                Method::GET if has("tagging") => Operation::GetObjectTagging,
                Method::GET if has("uploadId") => Operation::ListParts,
                Method::GET => Operation::GetObject,
                Method::HEAD => Operation::HeadObject,
                Method::PUT if has("tagging") => Operation::PutObjectTagging,
                Method::PUT if has("uploadId") || has("partNumber") => {
                    if !(has("uploadId") && has("partNumber")) {
                        return Err(S3Error::new(
                            S3ErrorCode::InvalidRequest,
                            "UploadPart needs both partNumber and uploadId",
                        ));
                    }
                    if copy {
                        Operation::UploadPartCopy
                    } else {
                        Operation::UploadPart
                    }
                }
                Method::PUT if copy => Operation::CopyObject,
                Method::PUT => Operation::PutObject,
                Method::DELETE if has("tagging") => Operation::DeleteObjectTagging,
                Method::DELETE if has("uploadId") => Operation::AbortMultipartUpload,
                Method::DELETE => Operation::DeleteObject,
                Method::POST if has("uploads") => Operation::CreateMultipartUpload,
                Method::POST if has("uploadId") => Operation::CompleteMultipartUpload,
                _ => return Err(unsupported()),
            }
        }
    };
    Ok(operation)
}

impl S3Request {
    fn bucket_resource(&self) -> Result<String, S3Error> {
        self.bucket
            .as_ref()
            .map(bucket_arn)
            .ok_or_else(|| S3Error::from_code(S3ErrorCode::InternalError))
    }

    /// The object this request addresses (bucket, key, versionId).
    pub fn object(&self) -> Option<ObjectRef> {
        Some(ObjectRef {
            bucket: self.bucket.clone()?,
            key: self.key.clone()?,
            version_id: self.version_id.clone(),
        })
    }

    fn object_check(&self, action: &'static str) -> Result<AuthorizationRequest, S3Error> {
        let object = self
            .object()
            .ok_or_else(|| S3Error::from_code(S3ErrorCode::InternalError))?;
        Ok(AuthorizationRequest::new(action, object.arn()))
    }

    /// The object's check with the versioned action when `versionId` is
    /// given (S3 evaluates only the `…Version…` action then), plus
    /// `s3:VersionId`, and existing-tag support where the action has it.
    fn versioned_object_check(
        &self,
        plain: &'static str,
        versioned: &'static str,
        existing_tags: bool,
    ) -> Result<AuthorizationRequest, S3Error> {
        let mut check = match &self.version_id {
            Some(version) => {
                let mut check = self.object_check(versioned)?;
                check.condition_keys.push(single("s3:VersionId", version));
                check
            }
            None => self.object_check(plain)?,
        };
        if existing_tags {
            check.existing_object_tags = self.object();
        }
        Ok(check)
    }

    fn plan(&mut self, query: &Query, headers: &Headers<'_>) -> Result<(), S3Error> {
        let content_sha256 = headers.get("x-amz-content-sha256")?;
        let list_keys = || {
            let mut keys = Vec::new();
            for (param, key) in [
                ("prefix", "s3:prefix"),
                ("delimiter", "s3:delimiter"),
                ("max-keys", "s3:max-keys"),
            ] {
                if let Some(value) = query.get(param) {
                    keys.push(single(key, value));
                }
            }
            keys
        };
        let mut checks = match self.operation {
            Operation::ListBuckets => vec![AuthorizationRequest::new(
                "s3:ListAllMyBuckets",
                "*".to_owned(),
            )],
            Operation::CreateBucket => {
                let mut check =
                    AuthorizationRequest::new("s3:CreateBucket", self.bucket_resource()?);
                for header in ACL_HEADERS.iter().chain(&["x-amz-object-ownership"]) {
                    if let Some(value) = headers.get(header)? {
                        check
                            .condition_keys
                            .push(single(&format!("s3:{header}"), &value));
                    }
                }
                vec![check]
            }
            Operation::DeleteBucket => vec![AuthorizationRequest::new(
                "s3:DeleteBucket",
                self.bucket_resource()?,
            )],
            Operation::HeadBucket => vec![AuthorizationRequest::new(
                "s3:ListBucket",
                self.bucket_resource()?,
            )],
            Operation::GetBucketLocation => {
                vec![AuthorizationRequest::new(
                    "s3:GetBucketLocation",
                    self.bucket_resource()?,
                )]
            }
            Operation::ListObjects | Operation::ListObjectsV2 => {
                let mut check = AuthorizationRequest::new("s3:ListBucket", self.bucket_resource()?);
                check.condition_keys = list_keys();
                vec![check]
            }
            Operation::ListObjectVersions => {
                let mut check =
                    AuthorizationRequest::new("s3:ListBucketVersions", self.bucket_resource()?);
                check.condition_keys = list_keys();
                vec![check]
            }
            Operation::ListMultipartUploads => {
                vec![AuthorizationRequest::new(
                    "s3:ListBucketMultipartUploads",
                    self.bucket_resource()?,
                )]
            }
            Operation::GetObject | Operation::HeadObject => {
                vec![self.versioned_object_check("s3:GetObject", "s3:GetObjectVersion", true)?]
            }
            Operation::PutObject | Operation::CreateMultipartUpload => {
                self.put_checks(headers, true)?
            }
            Operation::CopyObject => {
                let replace_tags = headers
                    .get("x-amz-tagging-directive")?
                    .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
                let mut checks = vec![self.copy_source_check()?];
                checks.extend(self.put_checks(headers, replace_tags)?);
                checks
            }
            Operation::UploadPart => vec![self.object_check("s3:PutObject")?],
            Operation::UploadPartCopy => {
                let mut put = self.object_check("s3:PutObject")?;
                if let Some(source) = &self.copy_source {
                    put.condition_keys
                        .push(single("s3:x-amz-copy-source", &source.condition_value()));
                }
                vec![self.copy_source_check()?, put]
            }
            Operation::CompleteMultipartUpload => {
                let mut put = self.object_check("s3:PutObject")?;
                for (header, key) in [
                    ("if-match", "s3:if-match"),
                    ("if-none-match", "s3:if-none-match"),
                ] {
                    if let Some(value) = headers.get(header)? {
                        put.condition_keys.push(single(key, &value));
                    }
                }
                vec![put]
            }
            Operation::AbortMultipartUpload => vec![self.object_check("s3:AbortMultipartUpload")?],
            Operation::ListParts => vec![self.object_check("s3:ListMultipartUploadParts")?],
            Operation::DeleteObject => {
                vec![self.versioned_object_check(
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    false,
                )?]
            }
            // Per key, once the body is parsed: see delete_objects_authorization.
            Operation::DeleteObjects => Vec::new(),
            Operation::GetObjectTagging => {
                vec![self.versioned_object_check(
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    true,
                )?]
            }
            Operation::PutObjectTagging => {
                vec![self.versioned_object_check(
                    "s3:PutObjectTagging",
                    "s3:PutObjectVersionTagging",
                    true,
                )?]
            }
            Operation::DeleteObjectTagging => vec![self.versioned_object_check(
                "s3:DeleteObjectTagging",
                "s3:DeleteObjectVersionTagging",
                true,
            )?],
            Operation::PutBucketPolicy => vec![AuthorizationRequest::new(
                "s3:PutBucketPolicy",
                self.bucket_resource()?,
            )],
            Operation::GetBucketPolicy => vec![AuthorizationRequest::new(
                "s3:GetBucketPolicy",
                self.bucket_resource()?,
            )],
            Operation::DeleteBucketPolicy => {
                vec![AuthorizationRequest::new(
                    "s3:DeleteBucketPolicy",
                    self.bucket_resource()?,
                )]
            }
            Operation::GetBucketPolicyStatus => {
                vec![AuthorizationRequest::new(
                    "s3:GetBucketPolicyStatus",
                    self.bucket_resource()?,
                )]
            }
        };
        if let Some(sha) = &content_sha256 {
            for check in &mut checks {
                check
                    .condition_keys
                    .push(single("s3:x-amz-content-sha256", sha));
            }
        }
        self.content_sha256 = content_sha256;
        self.checks = checks;
        Ok(())
    }

    /// s3:GetObject (or s3:GetObjectVersion) on the copy source.
    fn copy_source_check(&self) -> Result<AuthorizationRequest, S3Error> {
        let source = self
            .copy_source
            .as_ref()
            .ok_or_else(|| S3Error::from_code(S3ErrorCode::InternalError))?;
        let arn = object_arn(&source.bucket, &source.key);
        let mut check = match &source.version_id {
            Some(version) => {
                let mut check = AuthorizationRequest::new("s3:GetObjectVersion", arn);
                check.condition_keys.push(single("s3:VersionId", version));
                check
            }
            None => AuthorizationRequest::new("s3:GetObject", arn),
        };
        check.existing_object_tags = Some(source.object());
        Ok(check)
    }

    /// s3:PutObject on the target with the header keys, plus s3:PutObjectAcl
    /// when an ACL is set and s3:PutObjectTagging when tags are set.
    fn put_checks(
        &mut self,
        headers: &Headers<'_>,
        tags_apply: bool,
    ) -> Result<Vec<AuthorizationRequest>, S3Error> {
        let mut put = self.object_check("s3:PutObject")?;
        for (header, key) in PUT_OBJECT_HEADER_KEYS {
            if let Some(value) = headers.get(header)? {
                put.condition_keys.push(single(key, &value));
            }
        }
        if let Some(source) = &self.copy_source {
            put.condition_keys
                .push(single("s3:x-amz-copy-source", &source.condition_value()));
            if let Some(directive) = headers.get("x-amz-metadata-directive")? {
                put.condition_keys
                    .push(single("s3:x-amz-metadata-directive", &directive));
            }
        }
        let mut checks = Vec::new();
        let mut acl_keys = Vec::new();
        for header in ACL_HEADERS {
            if let Some(value) = headers.get(header)? {
                acl_keys.push(single(&format!("s3:{header}"), &value));
            }
        }
        if tags_apply {
            if let Some(raw) = headers.get("x-amz-tagging")? {
                let tags = parse_tagging_header(&raw)?;
                put.condition_keys.extend(request_tag_keys(&tags));
                let mut tagging = self.object_check("s3:PutObjectTagging")?;
                tagging.condition_keys.extend(request_tag_keys(&tags));
                tagging.existing_object_tags = self.object();
                self.request_tags = Some(tags);
                checks.push(tagging);
            }
        }
        checks.insert(0, put);
        if !acl_keys.is_empty() {
            let mut acl = self.object_check("s3:PutObjectAcl")?;
            acl.condition_keys = acl_keys;
            acl.existing_object_tags = self.object();
            checks.push(acl);
        }
        Ok(checks)
    }

    /// Attaches the parsed PutObjectTagging body: its tags become
    /// `s3:RequestObjectTag/<k>` and `s3:RequestObjectTagKeys`.
    pub fn attach_tagging_body(&mut self, tags: Vec<Tag>) {
        if self.operation != Operation::PutObjectTagging {
            return;
        }
        for check in &mut self.checks {
            check.condition_keys.extend(request_tag_keys(&tags));
        }
        self.body_tags = Some(tags);
    }

    /// Every check IAM must allow for this request, with the connection's
    /// keys added. Fails (500, a gateway bug, never a silent allow) for
    /// DeleteObjects, whose checks are per key
    /// ([`delete_objects_authorization`](Self::delete_objects_authorization)),
    /// and for PutObjectTagging before [`attach_tagging_body`](Self::attach_tagging_body).
    pub fn authorization(&self, ctx: &AuthContext) -> Result<Vec<AuthorizationRequest>, S3Error> {
        let not_ready =
            |why: &str| S3Error::new(S3ErrorCode::InternalError, format!("gateway bug: {why}"));
        match self.operation {
            Operation::DeleteObjects => Err(not_ready("DeleteObjects is authorized per key")),
            Operation::PutObjectTagging if self.body_tags.is_none() => {
                Err(not_ready("PutObjectTagging body not attached"))
            }
            _ => Ok(self
                .checks
                .iter()
                .map(|c| c.clone().with_context(ctx))
                .collect()),
        }
    }

    /// The checks for each object of a DeleteObjects body, in body order:
    /// s3:DeleteObject, or s3:DeleteObjectVersion (with `s3:VersionId`) for
    /// an entry with a `VersionId`. A denied entry becomes an `AccessDenied`
    /// `<Error>` in the result; the others go to the upstream.
    pub fn delete_objects_authorization(
        &self,
        ctx: &AuthContext,
        body: &DeleteObjectsRequest,
    ) -> Result<Vec<AuthorizationRequest>, S3Error> {
        let bucket = self
            .bucket
            .as_ref()
            .filter(|_| self.operation == Operation::DeleteObjects)
            .ok_or_else(|| {
                S3Error::new(S3ErrorCode::InternalError, "gateway bug: not DeleteObjects")
            })?;
        let mut checks = Vec::with_capacity(body.objects.len());
        for entry in &body.objects {
            let key = ObjectKey::new(entry.key.clone())?;
            let arn = object_arn(bucket, &key);
            let mut check = match &entry.version_id {
                Some(version) => {
                    let mut check = AuthorizationRequest::new("s3:DeleteObjectVersion", arn);
                    check.condition_keys.push(single("s3:VersionId", version));
                    check
                }
                None => AuthorizationRequest::new("s3:DeleteObject", arn),
            };
            if let Some(sha) = &self.content_sha256 {
                check
                    .condition_keys
                    .push(single("s3:x-amz-content-sha256", sha));
            }
            checks.push(check.with_context(ctx));
        }
        Ok(checks)
    }
}
