//! The S3 front: classify with irsa-s3, authorize with the bucket policy,
//! answer bucket-policy operations from the store, forward the rest
//! path-style to the upstream, re-signed, with the body verified on the way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use irsa_auth::{AuthError, Caller, Check, RequestFacts, ResourcePolicy, Verdict};
use irsa_s3::{
    AddressingConfig, AuthContext, AuthType, AuthorizationRequest, BodyHandling,
    DeleteObjectsRequest, Operation, RequestInput, S3Error, S3ErrorCode, S3Request,
};
use irsa_sigv4::{
    ChunkedOptions, PayloadCheck, PayloadMode, SigV4Config, SigV4Error, SignatureForm,
    VerifiedSignature,
};
use irsa_store::Store;
use sha2::{Digest as _, Sha256};

use crate::body::{
    full, read_verified, BodyVerdict, CheckedBody, ChunkedBody, Counted, GatewayBody, Reframe,
    Verifier,
};
use crate::bucket_policies::{BucketPolicies, LoadedBucketPolicy};
use crate::error::{from_auth, from_denial, from_sigv4};
use crate::front::{ConnectionInfo, Front};
use crate::metrics::UNKNOWN_OPERATION;
use crate::pipeline::{signed_request, Pipeline};
use crate::upstream::UpstreamError;

/// Headers that belong to one hop and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Presigned-URL parameters: the client's authentication, not the request.
const PRESIGN_PARAMS: [&str; 7] = [
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
];

/// Largest upstream DeleteObjects result the gateway reads to merge
/// denied keys into (1000 keys with long names and errors fit easily).
const DELETE_RESULT_LIMIT: usize = 8 * 1024 * 1024;

/// The S3 front's settings.
#[derive(Debug, Clone, Default)]
pub struct S3FrontConfig {
    /// `--s3-domain`: `BUCKET.DOMAIN` hosts are virtual-hosted requests.
    pub domains: Vec<String>,
}

/// The S3 front.
#[derive(Debug)]
pub struct S3Front {
    pipeline: Pipeline,
    addressing: AddressingConfig,
    policies: BucketPolicies,
    sigv4: SigV4Config,
}

/// A failed request: the error to answer, and the operation if known.
struct Failure {
    error: S3Error,
    operation: Option<Operation>,
}

impl From<S3Error> for Failure {
    fn from(error: S3Error) -> Self {
        Self {
            error,
            operation: None,
        }
    }
}

/// The authenticated, classified request on its way through the handler.
struct Admitted {
    /// `None`: an unsigned request, the anonymous principal.
    caller: Option<Caller>,
    signature: Option<VerifiedSignature>,
    facts: RequestFacts,
    context: AuthContext,
    request: S3Request,
}

impl S3Front {
    pub fn new(pipeline: Pipeline, store: Arc<dyn Store>, config: &S3FrontConfig) -> Self {
        let policies = BucketPolicies::new(store, pipeline.clock.clone());
        Self {
            pipeline,
            addressing: AddressingConfig::new(&config.domains),
            policies,
            sigv4: SigV4Config::s3(),
        }
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    async fn process(
        &self,
        connection: &ConnectionInfo,
        request: Request<Incoming>,
        request_id: &str,
    ) -> Result<(Operation, Response<GatewayBody>), Failure> {
        let (parts, body) = request.into_parts();
        let (admitted, verifier) = self.admit(connection, &parts).await?;
        let operation = admitted.request.operation;
        let with_op = |error: S3Error| Failure {
            error,
            operation: Some(operation),
        };
        let response = match operation.body_handling() {
            BodyHandling::Forward => {
                let checks = admitted
                    .request
                    .authorization(&admitted.context)
                    .map_err(with_op)?;
                self.require_all(connection, request_id, &admitted, &checks)
                    .await
                    .map_err(with_op)?;
                if operation.is_answered_by_gateway() {
                    self.answer_bucket_policy(&admitted, None)
                        .await
                        .map_err(with_op)?
                } else {
                    self.forward_streaming(&parts, body, admitted, verifier)
                        .await
                        .map_err(with_op)?
                }
            }
            BodyHandling::BucketPolicy => {
                let document = read_body(body, verifier, irsa_s3::BUCKET_POLICY_MAX_BYTES)
                    .await
                    .map_err(|e| match e {
                        None => {
                            irsa_s3::check_bucket_policy_size(irsa_s3::BUCKET_POLICY_MAX_BYTES + 1)
                                .err()
                                .unwrap_or_else(|| S3Error::from_code(S3ErrorCode::MalformedPolicy))
                        }
                        Some(e) => e,
                    })
                    .map_err(with_op)?;
                let checks = admitted
                    .request
                    .authorization(&admitted.context)
                    .map_err(with_op)?;
                self.require_all(connection, request_id, &admitted, &checks)
                    .await
                    .map_err(with_op)?;
                self.answer_bucket_policy(&admitted, Some(document))
                    .await
                    .map_err(with_op)?
            }
            BodyHandling::ParseTagging => {
                let bytes = read_body(body, verifier, irsa_s3::TAGGING_BODY_LIMIT)
                    .await
                    .map_err(too_large_or)
                    .map_err(with_op)?;
                let tags = irsa_s3::parse_tagging_xml(&bytes).map_err(with_op)?;
                let mut admitted = admitted;
                admitted.request.attach_tagging_body(tags);
                let checks = admitted
                    .request
                    .authorization(&admitted.context)
                    .map_err(with_op)?;
                self.require_all(connection, request_id, &admitted, &checks)
                    .await
                    .map_err(with_op)?;
                self.forward_buffered(&parts, &admitted, bytes, false)
                    .await
                    .map_err(with_op)?
            }
            BodyHandling::ParseDeleteObjects => self
                .delete_objects(connection, request_id, &parts, body, admitted, verifier)
                .await
                .map_err(with_op)?,
        };
        Ok((operation, response))
    }

    /// Authenticates and classifies the request head, and prepares the
    /// check of its body.
    async fn admit(
        &self,
        connection: &ConnectionInfo,
        parts: &http::request::Parts,
    ) -> Result<(Admitted, Verifier), Failure> {
        let signed = signed_request(parts);
        let (caller, signature) = match self.pipeline.authenticate(&self.sigv4, &signed).await {
            Ok(authenticated) => {
                let (caller, signature) = authenticated.into_parts();
                (Some(caller), Some(signature))
            }
            // Unsigned: the anonymous principal, allowed only what a
            // bucket policy grants to everyone.
            Err(AuthError::SigV4(SigV4Error::MissingAuthenticationToken)) => (None, None),
            Err(e) => return Err(Failure::from(from_auth(&e))),
        };
        let request = irsa_s3::classify(&self.addressing, &RequestInput::from_parts(parts))?;
        let operation = request.operation;
        let with_op = |error: S3Error| Failure {
            error,
            operation: Some(operation),
        };
        let Some(signature) = signature else {
            let streaming = parts
                .headers
                .get("x-amz-content-sha256")
                .and_then(|v| v.to_str().ok())
                .and_then(PayloadMode::from_header_value)
                .is_some_and(|m| m.is_streaming());
            if streaming {
                return Err(with_op(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "aws-chunked uploads must be signed",
                )));
            }
            let check = PayloadCheck::for_request(&PayloadMode::Unsigned, &signed)
                .map_err(|e| with_op(from_sigv4(&e)))?;
            let region = self.pipeline.upstream.config().region.clone();
            return Ok((
                Admitted {
                    caller,
                    signature: None,
                    facts: Pipeline::facts(connection, &region),
                    context: auth_context(&self.pipeline, connection, None),
                    request,
                },
                Verifier::Plain(check),
            ));
        };
        let mode = signature.payload_mode();
        let verifier = if mode.is_streaming() {
            let options =
                ChunkedOptions::from_request(&signed).map_err(|e| with_op(from_sigv4(&e)))?;
            Verifier::Chunked(Box::new(
                signature
                    .chunked_decoder(options)
                    .map_err(|e| with_op(from_sigv4(&e)))?,
            ))
        } else {
            Verifier::Plain(
                signature
                    .payload_check(&signed)
                    .map_err(|e| with_op(from_sigv4(&e)))?,
            )
        };
        let context = auth_context(&self.pipeline, connection, Some(&signature));
        let facts = Pipeline::facts(connection, signature.region());
        Ok((
            Admitted {
                caller,
                signature: Some(signature),
                facts,
                context,
                request,
            },
            verifier,
        ))
    }

    /// The bucket policies the checks touch, by bucket name.
    async fn policies_for(
        &self,
        checks: &[AuthorizationRequest],
    ) -> Result<HashMap<String, Arc<LoadedBucketPolicy>>, S3Error> {
        self.policies.for_checks(checks).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read bucket policy");
            S3Error::from_code(S3ErrorCode::ServiceUnavailable)
        })
    }

    /// Decides every check; denials are audited. The account root may
    /// always manage a bucket's policy, whatever the policy says (AWS's
    /// lock-out escape hatch), so those operations skip the bucket policy
    /// for the root.
    async fn decide(
        &self,
        connection: &ConnectionInfo,
        request_id: &str,
        admitted: &Admitted,
        checks: &[AuthorizationRequest],
    ) -> Result<Vec<Verdict>, S3Error> {
        let skip_bucket_policy = admitted.caller.as_ref().is_some_and(Caller::is_root)
            && admitted.request.operation.is_answered_by_gateway();
        let policies = if skip_bucket_policy {
            HashMap::new()
        } else {
            self.policies_for(checks).await?
        };
        let caller_policies = match &admitted.caller {
            Some(caller) => self
                .pipeline
                .caller_policies(caller)
                .await
                .map_err(|e| from_auth(&e))?,
            None => None,
        };
        // s3:ExistingObjectTag/<key> needs the object's tags, an upstream
        // call: made only when a policy that applies mentions the key.
        let mut with_tags;
        let checks = if checks.iter().any(|c| c.existing_object_tags.is_some())
            && (caller_policies.as_deref().is_some_and(|p| {
                p.condition_keys()
                    .any_with_prefix(irsa_s3::EXISTING_OBJECT_TAG_PREFIX)
            }) || policies.values().any(|p| p.names_existing_object_tag))
        {
            with_tags = checks.to_vec();
            let mut fetched: HashMap<(String, String), Vec<irsa_s3::Tag>> = HashMap::new();
            for check in &mut with_tags {
                let Some(object) = check.existing_object_tags.clone() else {
                    continue;
                };
                let id = (
                    object.bucket.as_str().to_owned(),
                    object.key.as_str().to_owned(),
                );
                if !fetched.contains_key(&id) {
                    let tags = self.existing_object_tags(&object).await?;
                    fetched.insert(id.clone(), tags);
                }
                if let Some(tags) = fetched.get(&id) {
                    check.add_existing_object_tags(tags);
                }
            }
            &with_tags[..]
        } else {
            checks
        };
        let prepared = IamChecks::new(checks);
        let iam_checks = prepared.with_bucket_policies(&policies, self.pipeline.account.as_str());
        let verdicts = match &admitted.caller {
            Some(caller) => self.pipeline.decide_all(
                caller,
                caller_policies.as_deref(),
                &admitted.facts,
                &iam_checks,
            ),
            None => self
                .pipeline
                .authorize_anonymous(&admitted.facts, &iam_checks),
        };
        for verdict in &verdicts {
            if let Verdict::Denied(denial) = verdict {
                Pipeline::audit_denial("s3", request_id, connection, denial);
            }
        }
        Ok(verdicts)
    }

    /// The tags of an object (GetObjectTagging upstream). A store without
    /// object tagging (Garage answers 501) or a missing object has none;
    /// any other failure refuses the request, because absent tags could
    /// let a `Deny … s3:ExistingObjectTag` slip.
    async fn existing_object_tags(
        &self,
        object: &irsa_s3::ObjectRef,
    ) -> Result<Vec<irsa_s3::Tag>, S3Error> {
        let mut path = format!(
            "/{}/{}?tagging",
            s3_encode(object.bucket.as_str(), false),
            s3_encode(object.key.as_str(), true)
        );
        if let Some(version) = &object.version_id {
            path.push_str("&versionId=");
            path.push_str(&s3_encode(version, false));
        }
        let response = self
            .send_upstream(
                &Method::GET,
                &path,
                HeaderMap::new(),
                EMPTY_SHA256,
                full(Bytes::new()),
            )
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::NOT_IMPLEMENTED {
            return Ok(Vec::new());
        }
        let unavailable = |why: &str| {
            tracing::warn!(%status, why, "cannot read the object's tags for s3:ExistingObjectTag");
            S3Error::from_code(S3ErrorCode::ServiceUnavailable)
        };
        if !status.is_success() {
            return Err(unavailable("upstream refused GetObjectTagging"));
        }
        let body = self.client_response(response).into_body();
        let bytes = collect_limited(body, irsa_s3::TAGGING_BODY_LIMIT)
            .await
            .ok_or_else(|| unavailable("tagging document unreadable or too large"))?;
        irsa_s3::parse_tagging_xml(&bytes).map_err(|_| unavailable("malformed tagging document"))
    }

    /// Every check must be allowed; the first denial is the answer.
    async fn require_all(
        &self,
        connection: &ConnectionInfo,
        request_id: &str,
        admitted: &Admitted,
        checks: &[AuthorizationRequest],
    ) -> Result<(), S3Error> {
        if checks.is_empty() {
            // irsa-s3 always names at least one check; none would be a bug,
            // and a bug must not allow.
            return Err(S3Error::new(
                S3ErrorCode::InternalError,
                "gateway bug: no authorization checks",
            ));
        }
        let verdicts = self
            .decide(connection, request_id, admitted, checks)
            .await?;
        match verdicts.into_iter().find(|v| !v.is_allowed()) {
            // S3 words denials in detail only for callers of the bucket's
            // own account; everyone else (the anonymous caller too) reads
            // "Access Denied".
            Some(Verdict::Denied(_)) if admitted.caller.is_none() => {
                Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"))
            }
            Some(Verdict::Denied(denial)) => Err(from_denial(&denial)),
            _ => Ok(()),
        }
    }

    /// Get/Put/DeleteBucketPolicy and GetBucketPolicyStatus, from the store.
    async fn answer_bucket_policy(
        &self,
        admitted: &Admitted,
        document: Option<Bytes>,
    ) -> Result<Response<GatewayBody>, S3Error> {
        let bucket = admitted
            .request
            .bucket
            .as_ref()
            .ok_or_else(|| S3Error::new(S3ErrorCode::InternalError, "gateway bug: no bucket"))?
            .as_str()
            .to_owned();
        self.require_bucket(&bucket).await?;
        let unavailable = |e: crate::bucket_policies::StoreUnavailable| {
            tracing::error!(error = %e, "bucket policy store");
            S3Error::from_code(S3ErrorCode::ServiceUnavailable)
        };
        let no_policy = || {
            S3Error::from_code(S3ErrorCode::NoSuchBucketPolicy).with_detail("BucketName", &bucket)
        };
        match admitted.request.operation {
            Operation::PutBucketPolicy => {
                let document = document.unwrap_or_default();
                irsa_s3::check_bucket_policy_size(document.len())?;
                let text = std::str::from_utf8(&document).map_err(|_| {
                    S3Error::new(S3ErrorCode::MalformedPolicy, "Policies must be valid JSON")
                })?;
                let policy = BucketPolicies::validate(text)
                    .map_err(|e| S3Error::new(S3ErrorCode::MalformedPolicy, e.to_string()))?;
                self.policies
                    .put(&bucket, text.to_owned(), policy)
                    .await
                    .map_err(unavailable)?;
                Ok(status_only(StatusCode::NO_CONTENT))
            }
            Operation::GetBucketPolicy => {
                let policy = self.policies.get(&bucket).await.map_err(unavailable)?;
                let policy = policy.ok_or_else(no_policy)?;
                let mut response = Response::new(full(policy.document.clone()));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Ok(response)
            }
            Operation::DeleteBucketPolicy => {
                self.policies.delete(&bucket).await.map_err(unavailable)?;
                Ok(status_only(StatusCode::NO_CONTENT))
            }
            Operation::GetBucketPolicyStatus => {
                let policy = self.policies.get(&bucket).await.map_err(unavailable)?;
                let policy = policy.ok_or_else(no_policy)?;
                let public = irsa_s3::is_public_policy(&policy.document)?;
                let mut response = Response::new(full(irsa_s3::policy_status_xml(public)));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                Ok(response)
            }
            other => Err(S3Error::new(
                S3ErrorCode::InternalError,
                format!("gateway bug: {other} is not answered by the gateway"),
            )),
        }
    }

    /// S3 answers `NoSuchBucket` for a bucket that does not exist: asked
    /// of the upstream (HeadBucket).
    async fn require_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        let path = format!("/{}", s3_encode(bucket, false));
        let response = self
            .send_upstream(
                &Method::HEAD,
                &path,
                HeaderMap::new(),
                EMPTY_SHA256,
                full(Bytes::new()),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(
                S3Error::from_code(S3ErrorCode::NoSuchBucket).with_detail("BucketName", bucket)
            );
        }
        Ok(())
    }

    /// Signs and sends one request upstream.
    async fn send_upstream(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: HeaderMap,
        content_sha256: &str,
        body: GatewayBody,
    ) -> Result<Response<Incoming>, S3Error> {
        let time = self.pipeline.clock.now();
        let signed = self
            .pipeline
            .upstream
            .sign(method, path_and_query, headers, content_sha256, time)
            .map_err(upstream_failure)?;
        let mut request = Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = signed.uri;
        *request.headers_mut() = signed.headers;
        self.pipeline
            .upstream
            .send(request)
            .await
            .map_err(upstream_failure)
    }

    /// Forwards a request whose body streams through, verified on the way.
    async fn forward_streaming(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
        admitted: Admitted,
        verifier: Verifier,
    ) -> Result<Response<GatewayBody>, S3Error> {
        let path = upstream_path_and_query(&admitted.request, parts.uri.query());
        let mode = admitted
            .signature
            .as_ref()
            .map_or(PayloadMode::Unsigned, |s| s.payload_mode().clone());
        let mut headers = forwarded_headers(&parts.headers);
        let verdict = BodyVerdict::default();
        let received = Counted::new(body, self.pipeline.metrics.received());
        let time = self.pipeline.clock.now();
        // Every aws-chunked body goes upstream as signed chunks without a
        // trailer: the gateway has verified the client's chunks and trailer
        // checksum itself, and stores differ in how they sign trailers
        // (Garage 2.5 refuses AWS's trailer signature and our unsigned
        // trailers alike), while signed chunks are understood by all.
        let content_sha256 = match &mode {
            PayloadMode::Sha256(hash) => hash.clone(),
            PayloadMode::Unsigned => "UNSIGNED-PAYLOAD".to_owned(),
            _ => PayloadMode::StreamingSigned.as_header_value().to_owned(),
        };
        if mode.is_streaming() {
            // Re-framed: the upstream gets its own framing, sent chunked.
            headers.remove(CONTENT_LENGTH);
            headers.remove("x-amz-trailer");
        }
        let signed = self
            .pipeline
            .upstream
            .sign(&parts.method, &path, headers, &content_sha256, time)
            .map_err(upstream_failure)?;
        let upstream_body: GatewayBody = match verifier {
            Verifier::Plain(check) => {
                CheckedBody::new(received, check, verdict.clone()).boxed_unsync()
            }
            Verifier::Chunked(decoder) => {
                let chain = self
                    .pipeline
                    .upstream
                    .chunk_signing(time, &signed.seed_signature)
                    .map_err(|e| from_sigv4(&e))?;
                let reframe = Reframe::Signed(irsa_sigv4::AwsChunkedEncoder::new(chain, false));
                ChunkedBody::new(received, *decoder, reframe, verdict.clone()).boxed_unsync()
            }
        };
        let mut request = Request::new(upstream_body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = signed.uri;
        *request.headers_mut() = signed.headers;
        let result = self.pipeline.upstream.send(request).await;
        if let Some(failure) = verdict.failure() {
            // The body was refused mid-stream and the upstream request
            // aborted; whatever the upstream said, this is the answer.
            return Err(from_sigv4(&failure));
        }
        let response = result.map_err(upstream_failure)?;
        Ok(self.client_response(response))
    }

    /// Forwards a body the gateway had to read (tagging, DeleteObjects).
    async fn forward_buffered(
        &self,
        parts: &http::request::Parts,
        admitted: &Admitted,
        body: Bytes,
        body_rewritten: bool,
    ) -> Result<Response<GatewayBody>, S3Error> {
        let path = upstream_path_and_query(&admitted.request, parts.uri.query());
        let mut headers = forwarded_headers(&parts.headers);
        for name in ["x-amz-decoded-content-length", "x-amz-trailer"] {
            headers.remove(name);
        }
        strip_aws_chunked(&mut headers);
        if body_rewritten {
            let names: Vec<HeaderName> = headers
                .keys()
                .filter(|n| n.as_str().starts_with("x-amz-checksum-"))
                .cloned()
                .collect();
            for name in names {
                headers.remove(name);
            }
            headers.remove("x-amz-sdk-checksum-algorithm");
            let md5 = md5::Md5::digest(&body);
            let value = base64::engine::general_purpose::STANDARD.encode(md5);
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert("content-md5", value);
            }
        } else if !headers
            .keys()
            .any(|n| n.as_str().starts_with("x-amz-checksum-"))
        {
            // The checksum travelled in a trailer that is gone now.
            headers.remove("x-amz-sdk-checksum-algorithm");
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        let hash = hex_sha256(&body);
        let response = self
            .send_upstream(&parts.method, &path, headers, &hash, full(body))
            .await?;
        Ok(self.client_response(response))
    }

    /// DeleteObjects: every key authorized on its own; denied keys never
    /// reach the upstream and come back as per-key AccessDenied errors.
    async fn delete_objects(
        &self,
        connection: &ConnectionInfo,
        request_id: &str,
        parts: &http::request::Parts,
        body: Incoming,
        admitted: Admitted,
        verifier: Verifier,
    ) -> Result<Response<GatewayBody>, S3Error> {
        let bytes = read_body(body, verifier, irsa_s3::DELETE_OBJECTS_BODY_LIMIT)
            .await
            .map_err(too_large_or)?;
        let delete = DeleteObjectsRequest::parse(&bytes)?;
        let checks = admitted
            .request
            .delete_objects_authorization(&admitted.context, &delete)?;
        let verdicts = self
            .decide(connection, request_id, &admitted, &checks)
            .await?;
        let allowed: Vec<bool> = verdicts.iter().map(Verdict::is_allowed).collect();
        let denied: Vec<&irsa_s3::DeleteObjectEntry> = delete
            .objects
            .iter()
            .zip(&allowed)
            .filter(|(_, ok)| !**ok)
            .map(|(entry, _)| entry)
            .collect();
        if denied.is_empty() {
            return self.forward_buffered(parts, &admitted, bytes, false).await;
        }
        let upstream_result = if allowed.iter().any(|ok| *ok) {
            let filtered = Bytes::from(delete.to_xml(|i| allowed.get(i).copied().unwrap_or(false)));
            let response = self
                .forward_buffered(parts, &admitted, filtered, true)
                .await?;
            if response.status() != StatusCode::OK {
                // An upstream error is the answer as it is.
                return Ok(response);
            }
            let collected = collect_limited(response.into_body(), DELETE_RESULT_LIMIT)
                .await
                .ok_or_else(|| {
                    tracing::error!("cannot read the upstream DeleteObjects result");
                    S3Error::from_code(S3ErrorCode::InternalError)
                })?;
            Some(collected)
        } else {
            None
        };
        let merged = irsa_s3::merge_delete_result(upstream_result.as_deref(), &denied)?;
        let mut response = Response::new(full(merged));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        Ok(response)
    }

    /// The upstream's response for the client: status, headers (without
    /// hop-by-hop ones) and the body, streamed.
    fn client_response(&self, response: Response<Incoming>) -> Response<GatewayBody> {
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = self.pipeline.upstream.idle_bounded(body);
        let body = Counted::new(body, self.pipeline.metrics.sent()).boxed_unsync();
        Response::from_parts(parts, body)
    }
}

#[async_trait::async_trait]
impl Front for S3Front {
    fn service(&self) -> &'static str {
        "s3"
    }

    async fn handle(
        &self,
        connection: &ConnectionInfo,
        request: Request<Incoming>,
    ) -> Response<GatewayBody> {
        let started = Instant::now();
        let request_id = new_request_id();
        let host_id = new_host_id();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let (operation, outcome, mut response) =
            match self.process(connection, request, &request_id).await {
                Ok((operation, response)) => {
                    let status = response.status();
                    let outcome = if status.is_client_error() || status.is_server_error() {
                        format!("upstream_{}", status.as_u16())
                    } else {
                        "ok".to_owned()
                    };
                    (Some(operation), outcome, response)
                }
                Err(Failure { error, operation }) => {
                    tracing::debug!(
                        request_id,
                        operation = operation.map_or(UNKNOWN_OPERATION, Operation::as_str),
                        code = error.code().as_str(),
                        message = error.message(),
                        "s3 request refused"
                    );
                    let response = error_response(&error, &method, &path, &request_id, &host_id);
                    (operation, error.code().as_str().to_owned(), response)
                }
            };
        let headers = response.headers_mut();
        if !headers.contains_key("x-amz-request-id") {
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                headers.insert("x-amz-request-id", v);
            }
            if let Ok(v) = HeaderValue::from_str(&host_id) {
                headers.insert("x-amz-id-2", v);
            }
        }
        self.pipeline.metrics.observe(
            operation.map_or(UNKNOWN_OPERATION, Operation::as_str),
            &outcome,
            started.elapsed().as_secs_f64(),
        );
        response
    }

    /// S3's answer to a head over the limits: 400
    /// `RequestHeaderSectionTooLarge` with `MaxSizeAllowed`.
    fn head_too_large(&self, max_head_bytes: usize) -> Option<Response<Bytes>> {
        let request_id = new_request_id();
        let host_id = new_host_id();
        let error = S3Error::from_code(S3ErrorCode::RequestHeaderSectionTooLarge)
            .with_detail("MaxSizeAllowed", max_head_bytes.to_string());
        self.pipeline
            .metrics
            .observe(UNKNOWN_OPERATION, error.code().as_str(), 0.0);
        let mut response = Response::new(Bytes::from(error.to_xml(&request_id, &host_id)));
        *response.status_mut() = error.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert("x-amz-request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&host_id) {
            headers.insert("x-amz-id-2", v);
        }
        Some(response)
    }
}

async fn read_body(
    body: Incoming,
    verifier: Verifier,
    limit: usize,
) -> Result<Bytes, Option<S3Error>> {
    read_verified(body, verifier, limit)
        .await
        .map_err(|e| e.map(|e| from_sigv4(&e)))
}

/// A whole (small) response body; `None` when it fails or exceeds `limit`.
async fn collect_limited(mut body: GatewayBody, limit: usize) -> Option<Bytes> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.ok()?.into_data() {
            out.extend_from_slice(&data);
            if out.len() > limit {
                return None;
            }
        }
    }
    Some(Bytes::from(out))
}

fn too_large_or(error: Option<S3Error>) -> S3Error {
    error.unwrap_or_else(|| S3Error::from_code(S3ErrorCode::MaxMessageLengthExceeded))
}

fn upstream_failure(error: UpstreamError) -> S3Error {
    match error {
        UpstreamError::Unreachable(why) => {
            tracing::warn!(error = %why, "upstream unreachable");
            S3Error::new(
                S3ErrorCode::ServiceUnavailable,
                "The storage backend is unreachable. Please try again.",
            )
        }
        UpstreamError::BodyRejected => S3Error::from_code(S3ErrorCode::IncompleteBody),
        UpstreamError::NoResponse(after) => {
            tracing::warn!(
                timeout_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                "upstream did not answer"
            );
            S3Error::new(
                S3ErrorCode::ServiceUnavailable,
                "The storage backend did not answer in time. Please try again.",
            )
        }
        UpstreamError::ClientStalled(_) => S3Error::from_code(S3ErrorCode::RequestTimeout),
        other => {
            tracing::error!(error = %other, "cannot forward to the upstream");
            S3Error::from_code(S3ErrorCode::InternalError)
        }
    }
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn hex_sha256(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `x-amz-request-id`: 16 upper-case hex digits, as S3's.
fn new_request_id() -> String {
    irsa_core::UniqueRequestId::next().to_s3_request_id()
}

/// `x-amz-id-2`: opaque, base64.
fn new_host_id() -> String {
    base64::engine::general_purpose::STANDARD.encode(irsa_core::UniqueRequestId::next().to_bytes())
}

fn status_only(status: StatusCode) -> Response<GatewayBody> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn error_response(
    error: &S3Error,
    method: &Method,
    path: &str,
    request_id: &str,
    host_id: &str,
) -> Response<GatewayBody> {
    let error = if error.resource().is_none() && error.code() == S3ErrorCode::NoSuchBucketPolicy {
        error.clone().with_resource(path)
    } else {
        error.clone()
    };
    let body = error.body_for(method, request_id, host_id);
    let mut response = match body {
        Some(xml) => {
            let mut r = Response::new(full(xml));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            r
        }
        None => Response::new(full(Bytes::new())),
    };
    *response.status_mut() = error.status();
    response
}

/// What S3's request condition keys come from (`s3:authType`,
/// `s3:signatureAge`, `s3:TlsVersion`, `s3:ResourceAccount`);
/// `signature` is `None` for an unsigned request.
pub fn auth_context(
    pipeline: &Pipeline,
    connection: &ConnectionInfo,
    signature: Option<&VerifiedSignature>,
) -> AuthContext {
    let age_ms = |signature: &VerifiedSignature| {
        pipeline
            .clock
            .now()
            .duration_since(signature.request_time())
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    AuthContext {
        auth_type: signature.map(|s| match s.form() {
            SignatureForm::Header => AuthType::Header,
            SignatureForm::Presigned => AuthType::QueryString,
        }),
        tls_version: connection.tls_version.map(str::to_owned),
        signature_age_ms: signature.map(age_ms),
        resource_account: Some(pipeline.account.clone()),
    }
}

/// The IAM checks of an S3 request's authorization requests: each with
/// its condition keys (owned here, the checks borrow them) and the policy
/// of its bucket.
#[derive(Debug)]
pub struct IamChecks<'a> {
    requests: &'a [AuthorizationRequest],
    contexts: Vec<Vec<(String, Vec<String>)>>,
}

impl<'a> IamChecks<'a> {
    pub fn new(requests: &'a [AuthorizationRequest]) -> Self {
        let contexts = requests
            .iter()
            .map(|r| {
                r.condition_keys
                    .iter()
                    .map(|(k, v)| (k.clone(), v.values().to_vec()))
                    .collect()
            })
            .collect();
        Self { requests, contexts }
    }

    /// The checks, each with the policy of its bucket from `policies` (by
    /// bucket name, e.g. [`BucketPolicies::for_checks`]); `account` owns
    /// every bucket.
    pub fn with_bucket_policies<'b>(
        &'b self,
        policies: &'b HashMap<String, Arc<LoadedBucketPolicy>>,
        account: &'b str,
    ) -> Vec<Check<'b>> {
        self.requests
            .iter()
            .zip(&self.contexts)
            .map(|(r, context)| {
                let resource_policy =
                    bucket_of(&r.resource)
                        .and_then(|b| policies.get(b))
                        .map(|p| ResourcePolicy {
                            id: &p.id,
                            policy: &p.policy,
                            owner_account: account,
                        });
                Check::new(r.action, &r.resource)
                    .with_context(context)
                    .with_resource_policy(resource_policy)
            })
            .collect()
    }
}

/// The bucket of an S3 ARN (`arn:aws:s3:::bucket[/key]`).
pub(crate) fn bucket_of(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:aws:s3:::")?;
    let bucket = rest.split('/').next()?;
    (!bucket.is_empty()).then_some(bucket)
}

/// Headers the upstream gets: the client's, without its authentication
/// and without hop-by-hop headers.
fn forwarded_headers(client: &HeaderMap) -> HeaderMap {
    let mut headers = client.clone();
    strip_hop_by_hop(&mut headers);
    for name in [
        "host",
        "authorization",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-security-token",
        "expect",
    ] {
        headers.remove(name);
    }
    headers
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
    let named: Vec<String> = headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Drops `aws-chunked` from `Content-Encoding` (the body is plain now).
fn strip_aws_chunked(headers: &mut HeaderMap) {
    let Some(value) = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let rest: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    if rest.is_empty() {
        headers.remove("content-encoding");
    } else if let Ok(v) = HeaderValue::from_str(&rest.join(",")) {
        headers.insert("content-encoding", v);
    }
}

/// S3's URI encoding: every byte but `A-Za-z0-9-_.~` (and `/` in keys)
/// as `%XX`, so the upstream sees exactly the key the client named.
fn s3_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &byte in text.as_bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/');
        if keep {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(byte & 0xf)]));
        }
    }
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The path-style request for the upstream: `/bucket/key` encoded once,
/// and the query without the presigned-URL parameters, re-encoded the way
/// SigV4 canonicalises it.
fn upstream_path_and_query(request: &S3Request, raw_query: Option<&str>) -> String {
    let mut out = String::from("/");
    if let Some(bucket) = &request.bucket {
        out.push_str(&s3_encode(bucket.as_str(), false));
        if let Some(key) = &request.key {
            out.push('/');
            out.push_str(&s3_encode(key.as_str(), true));
        }
    }
    let Some(raw) = raw_query.filter(|q| !q.is_empty()) else {
        return out;
    };
    let mut first = true;
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        if PRESIGN_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p)) {
            continue;
        }
        out.push(if first { '?' } else { '&' });
        first = false;
        out.push_str(&s3_encode(&name, false));
        // Subresources without a value (`?uploads`, `?tagging`) stay bare.
        if !value.is_empty() || raw_has_equals(raw, &name) {
            out.push('=');
            out.push_str(&s3_encode(&value, false));
        }
    }
    out
}

/// Whether the raw query wrote `name=` (even with an empty value).
fn raw_has_equals(raw: &str, name: &str) -> bool {
    raw.split('&').any(|pair| {
        pair.split_once('=').is_some_and(|(n, _)| {
            form_urlencoded::parse(n.as_bytes())
                .next()
                .is_some_and(|(decoded, _)| decoded == name)
                || n == name
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_keys_byte_exactly() {
        assert_eq!(s3_encode("a b+c~d/e", true), "a%20b%2Bc~d/e");
        assert_eq!(s3_encode("a/b", false), "a%2Fb");
        assert_eq!(s3_encode("é", true), "%C3%A9");
        assert_eq!(s3_encode("%2F", true), "%252F");
    }

    #[test]
    fn buckets_of_arns() {
        assert_eq!(bucket_of("arn:aws:s3:::b/k/x"), Some("b"));
        assert_eq!(bucket_of("arn:aws:s3:::b"), Some("b"));
        assert_eq!(bucket_of("*"), None);
    }

    #[test]
    fn presign_params_and_hop_by_hop_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close, x-private"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 x"),
        );
        headers.insert("x-amz-meta-a", HeaderValue::from_static("kept"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        let out = forwarded_headers(&headers);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out.contains_key("x-amz-meta-a"));
    }

    #[test]
    fn aws_chunked_is_removed_from_content_encoding() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-encoding",
            HeaderValue::from_static("aws-chunked,gzip"),
        );
        strip_aws_chunked(&mut headers);
        assert_eq!(headers["content-encoding"], "gzip");
        headers.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
        strip_aws_chunked(&mut headers);
        assert!(!headers.contains_key("content-encoding"));
    }
}
