//! S3's error codes, their HTTP statuses, and the `<Error>` document.
//!
//! This is the one place where an S3 failure becomes wire bytes, so the
//! gateway never hand-writes an error body.

use std::fmt;

use http::{Method, StatusCode};

use crate::xml::escape;

/// The S3 error codes the gateway can answer with, each with S3's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    EntityTooLarge,
    ExpiredToken,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidRequest,
    InvalidTag,
    InvalidToken,
    InvalidURI,
    KeyTooLongError,
    MalformedPolicy,
    MalformedXML,
    MaxMessageLengthExceeded,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchKey,
    NotImplemented,
    RequestHeaderSectionTooLarge,
    RequestTimeTooSkewed,
    RequestTimeout,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
}

impl S3ErrorCode {
    /// Every code, for table tests and metrics label sets.
    pub const ALL: [S3ErrorCode; 34] = [
        S3ErrorCode::AccessDenied,
        S3ErrorCode::AuthorizationHeaderMalformed,
        S3ErrorCode::AuthorizationQueryParametersError,
        S3ErrorCode::BadDigest,
        S3ErrorCode::EntityTooLarge,
        S3ErrorCode::ExpiredToken,
        S3ErrorCode::IncompleteBody,
        S3ErrorCode::InternalError,
        S3ErrorCode::InvalidAccessKeyId,
        S3ErrorCode::InvalidArgument,
        S3ErrorCode::InvalidBucketName,
        S3ErrorCode::InvalidDigest,
        S3ErrorCode::InvalidRequest,
        S3ErrorCode::InvalidTag,
        S3ErrorCode::InvalidToken,
        S3ErrorCode::InvalidURI,
        S3ErrorCode::KeyTooLongError,
        S3ErrorCode::MalformedPolicy,
        S3ErrorCode::MalformedXML,
        S3ErrorCode::MaxMessageLengthExceeded,
        S3ErrorCode::MethodNotAllowed,
        S3ErrorCode::MissingContentLength,
        S3ErrorCode::MissingSecurityHeader,
        S3ErrorCode::NoSuchBucket,
        S3ErrorCode::NoSuchBucketPolicy,
        S3ErrorCode::NoSuchKey,
        S3ErrorCode::NotImplemented,
        S3ErrorCode::RequestHeaderSectionTooLarge,
        S3ErrorCode::RequestTimeTooSkewed,
        S3ErrorCode::RequestTimeout,
        S3ErrorCode::ServiceUnavailable,
        S3ErrorCode::SignatureDoesNotMatch,
        S3ErrorCode::SlowDown,
        S3ErrorCode::XAmzContentSHA256Mismatch,
    ];

    /// The code as it appears in `<Code>`.
    pub fn as_str(self) -> &'static str {
        match self {
            S3ErrorCode::AccessDenied => "AccessDenied",
            S3ErrorCode::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            S3ErrorCode::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            S3ErrorCode::BadDigest => "BadDigest",
            S3ErrorCode::EntityTooLarge => "EntityTooLarge",
            S3ErrorCode::ExpiredToken => "ExpiredToken",
            S3ErrorCode::IncompleteBody => "IncompleteBody",
            S3ErrorCode::InternalError => "InternalError",
            S3ErrorCode::InvalidAccessKeyId => "InvalidAccessKeyId",
            S3ErrorCode::InvalidArgument => "InvalidArgument",
            S3ErrorCode::InvalidBucketName => "InvalidBucketName",
            S3ErrorCode::InvalidDigest => "InvalidDigest",
            S3ErrorCode::InvalidRequest => "InvalidRequest",
            S3ErrorCode::InvalidTag => "InvalidTag",
            S3ErrorCode::InvalidToken => "InvalidToken",
            S3ErrorCode::InvalidURI => "InvalidURI",
            S3ErrorCode::KeyTooLongError => "KeyTooLongError",
            S3ErrorCode::MalformedPolicy => "MalformedPolicy",
            S3ErrorCode::MalformedXML => "MalformedXML",
            S3ErrorCode::MaxMessageLengthExceeded => "MaxMessageLengthExceeded",
            S3ErrorCode::MethodNotAllowed => "MethodNotAllowed",
            S3ErrorCode::MissingContentLength => "MissingContentLength",
            S3ErrorCode::MissingSecurityHeader => "MissingSecurityHeader",
            S3ErrorCode::NoSuchBucket => "NoSuchBucket",
            S3ErrorCode::NoSuchBucketPolicy => "NoSuchBucketPolicy",
            S3ErrorCode::NoSuchKey => "NoSuchKey",
            S3ErrorCode::NotImplemented => "NotImplemented",
            S3ErrorCode::RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            S3ErrorCode::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            S3ErrorCode::RequestTimeout => "RequestTimeout",
            S3ErrorCode::ServiceUnavailable => "ServiceUnavailable",
            S3ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            S3ErrorCode::SlowDown => "SlowDown",
            S3ErrorCode::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    /// S3's HTTP status for the code.
    pub fn status(self) -> StatusCode {
        match self {
            S3ErrorCode::AccessDenied
            | S3ErrorCode::InvalidAccessKeyId
            | S3ErrorCode::RequestTimeTooSkewed
            | S3ErrorCode::SignatureDoesNotMatch => StatusCode::FORBIDDEN,
            S3ErrorCode::NoSuchBucket
            | S3ErrorCode::NoSuchBucketPolicy
            | S3ErrorCode::NoSuchKey => StatusCode::NOT_FOUND,
            S3ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            S3ErrorCode::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            S3ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            S3ErrorCode::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            S3ErrorCode::ServiceUnavailable | S3ErrorCode::SlowDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            S3ErrorCode::AuthorizationHeaderMalformed
            | S3ErrorCode::AuthorizationQueryParametersError
            | S3ErrorCode::BadDigest
            | S3ErrorCode::EntityTooLarge
            | S3ErrorCode::ExpiredToken
            | S3ErrorCode::IncompleteBody
            | S3ErrorCode::InvalidArgument
            | S3ErrorCode::InvalidBucketName
            | S3ErrorCode::InvalidDigest
            | S3ErrorCode::InvalidRequest
            | S3ErrorCode::InvalidTag
            | S3ErrorCode::InvalidToken
            | S3ErrorCode::InvalidURI
            | S3ErrorCode::KeyTooLongError
            | S3ErrorCode::MalformedPolicy
            | S3ErrorCode::MalformedXML
            | S3ErrorCode::MaxMessageLengthExceeded
            | S3ErrorCode::MissingSecurityHeader
            | S3ErrorCode::RequestHeaderSectionTooLarge
            | S3ErrorCode::RequestTimeout
            | S3ErrorCode::XAmzContentSHA256Mismatch => StatusCode::BAD_REQUEST,
        }
    }

    /// S3's usual message for the code, used when no more precise one is given.
    pub fn default_message(self) -> &'static str {
        match self {
            S3ErrorCode::AccessDenied => "Access Denied",
            S3ErrorCode::AuthorizationHeaderMalformed => "The authorization header is malformed.",
            S3ErrorCode::AuthorizationQueryParametersError => {
                "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            }
            S3ErrorCode::BadDigest => "The Content-MD5 you specified did not match what we received.",
            S3ErrorCode::EntityTooLarge => "Your proposed upload exceeds the maximum allowed size",
            S3ErrorCode::ExpiredToken => "The provided token has expired.",
            S3ErrorCode::IncompleteBody => {
                "You did not provide the number of bytes specified by the Content-Length HTTP header"
            }
            S3ErrorCode::InternalError => "We encountered an internal error. Please try again.",
            S3ErrorCode::InvalidAccessKeyId => {
                "The AWS Access Key Id you provided does not exist in our records."
            }
            S3ErrorCode::InvalidArgument => "Invalid Argument",
            S3ErrorCode::InvalidBucketName => "The specified bucket is not valid.",
            S3ErrorCode::InvalidDigest => "The Content-MD5 you specified is not valid.",
            S3ErrorCode::InvalidRequest => "Invalid Request",
            S3ErrorCode::InvalidTag => "The tag provided was not a valid tag.",
            S3ErrorCode::InvalidToken => "The provided token is malformed or otherwise invalid.",
            S3ErrorCode::InvalidURI => "Couldn't parse the specified URI.",
            S3ErrorCode::KeyTooLongError => "Your key is too long",
            S3ErrorCode::MalformedPolicy => "Policies must be valid JSON and the first byte must be '{'",
            S3ErrorCode::MalformedXML => {
                "The XML you provided was not well-formed or did not validate against our published schema"
            }
            S3ErrorCode::MaxMessageLengthExceeded => "Your request was too big.",
            S3ErrorCode::MethodNotAllowed => "The specified method is not allowed against this resource.",
            S3ErrorCode::MissingContentLength => "You must provide the Content-Length HTTP header.",
            S3ErrorCode::MissingSecurityHeader => "Your request is missing a required header.",
            S3ErrorCode::NoSuchBucket => "The specified bucket does not exist",
            S3ErrorCode::NoSuchBucketPolicy => "The bucket policy does not exist",
            S3ErrorCode::NoSuchKey => "The specified key does not exist.",
            S3ErrorCode::NotImplemented => {
                "A header you provided implies functionality that is not implemented"
            }
            S3ErrorCode::RequestHeaderSectionTooLarge => {
                "Your request header section exceeds the maximum allowed size."
            }
            S3ErrorCode::RequestTimeTooSkewed => {
                "The difference between the request time and the current time is too large."
            }
            S3ErrorCode::RequestTimeout => {
                "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
            }
            S3ErrorCode::ServiceUnavailable => "Service is unable to handle request.",
            S3ErrorCode::SignatureDoesNotMatch => {
                "The request signature we calculated does not match the signature you provided. Check your key and signing method."
            }
            S3ErrorCode::SlowDown => "Please reduce your request rate.",
            S3ErrorCode::XAmzContentSHA256Mismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            }
        }
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 error answer: code, message, and the optional extra elements S3
/// puts between `<Message>` and `<Resource>` (`BucketName`, `ServerTime`…).
///
/// Never put secrets in it: everything here goes to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    code: S3ErrorCode,
    message: String,
    details: Vec<(&'static str, String)>,
    resource: Option<String>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
            resource: None,
        }
    }

    /// The code with S3's usual message.
    pub fn from_code(code: S3ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    /// `AccessDenied` / "Access Denied", S3's answer when it says nothing more.
    pub fn access_denied() -> Self {
        Self::from_code(S3ErrorCode::AccessDenied)
    }

    /// A presigned URL past its `X-Amz-Expires`: S3 answers 403 `AccessDenied`
    /// "Request has expired" with the expiry and the server time
    /// (both ISO 8601 basic, as the caller formats them).
    pub fn request_expired(expires: impl Into<String>, server_time: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::AccessDenied, "Request has expired")
            .with_detail("Expires", expires)
            .with_detail("ServerTime", server_time)
    }

    /// The 501 answer for a request the gateway does not support; such a
    /// request is never forwarded.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::NotImplemented, message)
    }

    /// Adds an element after `<Message>` (rendered in insertion order).
    #[must_use]
    pub fn with_detail(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.details.push((element, value.into()));
        self
    }

    /// Sets `<Resource>` (S3 puts the request path there).
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn code(&self) -> S3ErrorCode {
        self.code
    }
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn details(&self) -> &[(&'static str, String)] {
        &self.details
    }
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The `<Error>` document S3 sends (content type `application/xml`).
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut out = String::with_capacity(256 + self.message.len());
        out.push_str(crate::xml::DECLARATION);
        out.push_str("<Error>");
        push_element(&mut out, "Code", self.code.as_str());
        push_element(&mut out, "Message", &self.message);
        for (name, value) in &self.details {
            push_element(&mut out, name, value);
        }
        if let Some(resource) = &self.resource {
            push_element(&mut out, "Resource", resource);
        }
        push_element(&mut out, "RequestId", request_id);
        push_element(&mut out, "HostId", host_id);
        out.push_str("</Error>");
        out
    }

    /// The body for a response to `method`: none for HEAD (S3 sends only
    /// the status), the `<Error>` document otherwise.
    pub fn body_for(&self, method: &Method, request_id: &str, host_id: &str) -> Option<String> {
        (method != Method::HEAD).then(|| self.to_xml(request_id, host_id))
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        Self::from_code(code)
    }
}

pub(crate) fn push_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_matches_s3() {
        let expected = [
            ("AccessDenied", 403),
            ("SignatureDoesNotMatch", 403),
            ("InvalidAccessKeyId", 403),
            ("ExpiredToken", 400),
            ("InvalidToken", 400),
            ("RequestTimeTooSkewed", 403),
            ("XAmzContentSHA256Mismatch", 400),
            ("BadDigest", 400),
            ("IncompleteBody", 400),
            ("InvalidRequest", 400),
            ("InvalidArgument", 400),
            ("MalformedPolicy", 400),
            ("MalformedXML", 400),
            ("NoSuchBucketPolicy", 404),
            ("NoSuchBucket", 404),
            ("NoSuchKey", 404),
            ("NotImplemented", 501),
            ("MethodNotAllowed", 405),
            ("ServiceUnavailable", 503),
            ("SlowDown", 503),
            ("InternalError", 500),
            ("InvalidBucketName", 400),
            ("KeyTooLongError", 400),
            ("EntityTooLarge", 400),
            ("AuthorizationHeaderMalformed", 400),
            ("AuthorizationQueryParametersError", 400),
            ("MissingSecurityHeader", 400),
            ("MissingContentLength", 411),
            ("InvalidURI", 400),
            ("InvalidTag", 400),
            ("InvalidDigest", 400),
            ("MaxMessageLengthExceeded", 400),
            ("RequestHeaderSectionTooLarge", 400),
            ("RequestTimeout", 400),
        ];
        assert_eq!(expected.len(), S3ErrorCode::ALL.len());
        for (name, status) in expected {
            let code = S3ErrorCode::ALL
                .iter()
                .find(|c| c.as_str() == name)
                .unwrap_or_else(|| panic!("{name} missing from ALL"));
            assert_eq!(code.status().as_u16(), status, "{name}");
            assert!(!code.default_message().is_empty());
        }
    }

    #[test]
    fn renders_the_error_document_exactly() {
        let err = S3Error::access_denied().with_resource("/b/k");
        assert_eq!(
            err.to_xml("RID1", "HOST1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><Resource>/b/k</Resource><RequestId>RID1</RequestId><HostId>HOST1</HostId></Error>"
        );
    }

    #[test]
    fn escapes_text_and_keeps_detail_order() {
        let err = S3Error::new(S3ErrorCode::NoSuchBucket, "a<b & \"c\"")
            .with_detail("BucketName", "x&y")
            .with_resource("/k<>");
        let xml = err.to_xml("r&1", "h");
        assert!(xml.contains("<Message>a&lt;b &amp; &quot;c&quot;</Message><BucketName>x&amp;y</BucketName><Resource>/k&lt;&gt;</Resource><RequestId>r&amp;1</RequestId>"), "{xml}");
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn head_responses_have_no_body() {
        let err = S3Error::from_code(S3ErrorCode::NoSuchBucket);
        assert_eq!(err.body_for(&Method::HEAD, "r", "h"), None);
        assert!(err
            .body_for(&Method::GET, "r", "h")
            .is_some_and(|b| b.contains("<Code>NoSuchBucket</Code>")));
    }

    #[test]
    fn expired_presigned_url_is_access_denied() {
        let err = S3Error::request_expired("20240101T000000Z", "20240101T010000Z");
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        let xml = err.to_xml("r", "h");
        assert!(xml.contains("<Code>AccessDenied</Code><Message>Request has expired</Message><Expires>20240101T000000Z</Expires><ServerTime>20240101T010000Z</ServerTime>"), "{xml}");
    }
}
