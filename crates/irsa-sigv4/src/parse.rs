//! Step 1: extract the signature parameters from a request, without secrets.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use irsa_core::SecretString;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::canonical::query_pairs;
use crate::{RequestParts, SigV4Config, SigV4Error};

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(crate) const TERMINATOR: &str = "aws4_request";
/// SigV4's longest presigned lifetime: seven days.
pub const MAX_PRESIGNED_EXPIRES_SECONDS: u64 = 604_800;

const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Formats a time as ISO-8601 basic (`20231010T003000Z`), as SigV4 uses it.
pub(crate) fn format_amz_date(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(AMZ_DATE)
        .unwrap_or_else(|_| String::from("?"))
}

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    if s.len() != 16 {
        return None;
    }
    PrimitiveDateTime::parse(s, AMZ_DATE)
        .ok()
        .map(|t| SystemTime::from(t.assume_utc()))
}

fn parse_http_date(s: &str) -> Option<SystemTime> {
    PrimitiveDateTime::parse(s, HTTP_DATE)
        .ok()
        .map(|t| SystemTime::from(t.assume_utc()))
}

/// Where the signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureForm {
    /// `Authorization: AWS4-HMAC-SHA256 …` header.
    Header,
    /// `X-Amz-*` query parameters (presigned URL).
    Presigned,
}

/// The credential scope `DATE/REGION/SERVICE/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    pub(crate) fn to_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// The signature parameters of a request, parsed but not yet verified.
///
/// Look the secret up by [`ParsedSignature::access_key_id`] (and the
/// security token, for temporary credentials), then call
/// [`crate::verify`].
#[derive(Debug, Clone)]
pub struct ParsedSignature {
    pub(crate) form: SignatureForm,
    pub(crate) access_key_id: String,
    pub(crate) scope: CredentialScope,
    pub(crate) signed_headers: Vec<String>,
    /// The request timestamp as the client wrote it into the string to sign.
    pub(crate) amz_date: String,
    pub(crate) request_time: SystemTime,
    pub(crate) security_token: Option<SecretString>,
    pub(crate) expires: Option<Duration>,
    pub(crate) signature: String,
    /// `X-Amz-Content-Sha256` query parameter of a presigned request.
    pub(crate) content_sha256: Option<String>,
    /// Whether S3's canonicalisation and payload rules apply.
    pub(crate) s3: bool,
}

impl ParsedSignature {
    pub fn form(&self) -> SignatureForm {
        self.form
    }
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }
    pub fn region(&self) -> &str {
        &self.scope.region
    }
    pub fn service(&self) -> &str {
        &self.scope.service
    }
    /// Lower-case names, in the order the client listed them.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }
    /// When the client says it signed the request (`X-Amz-Date` or `Date`).
    pub fn request_time(&self) -> SystemTime {
        self.request_time
    }
    /// `X-Amz-Security-Token` (header or query), for temporary credentials.
    pub fn security_token(&self) -> Option<&SecretString> {
        self.security_token.as_ref()
    }
    /// `X-Amz-Expires` of a presigned request.
    pub fn presigned_expires(&self) -> Option<Duration> {
        self.expires
    }
    /// Whether S3's rules apply (see [`crate::S3Rules`]).
    pub fn uses_s3_rules(&self) -> bool {
        self.s3
    }
}

/// The presigned query parameters SigV4 defines, in AWS's reporting order.
const PRESIGN_PARAMS: [&str; 5] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
];

impl SigV4Config {
    /// Parses the signature parameters of `request` (no secrets, no time).
    pub fn parse(&self, request: &RequestParts<'_>) -> Result<ParsedSignature, SigV4Error> {
        let mut auth = request.header_values("authorization");
        if let Some(first) = auth.next() {
            if auth.next().is_some() {
                return Err(SigV4Error::IncompleteSignature(
                    "Only one 'Authorization' header is allowed.".into(),
                ));
            }
            return self.parse_header_form(request, &String::from_utf8_lossy(first));
        }
        let mut presign = PresignParams::default();
        for (k, v) in query_pairs(request.query) {
            let Some(slot) = presign.slot(&k) else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(String::from_utf8_lossy(&v).into_owned());
            }
        }
        if presign.algorithm.is_none()
            && presign.credential.is_none()
            && presign.signature.is_none()
            && presign.signed_headers.is_none()
        {
            return Err(SigV4Error::MissingAuthenticationToken);
        }
        self.parse_presigned(presign)
    }

    fn parse_header_form(
        &self,
        request: &RequestParts<'_>,
        authorization: &str,
    ) -> Result<ParsedSignature, SigV4Error> {
        let value = authorization.trim();
        let (algorithm, rest) = value
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((value, ""));
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        // Another scheme (Basic, Bearer, AWS4-HMAC-SHA512…) carries none of
        // our parameters, so it is reported as missing all of them.
        if algorithm == ALGORITHM {
            for part in rest.split(',') {
                let Some((k, v)) = part.trim().split_once('=') else {
                    continue;
                };
                let v = v.trim();
                if v.is_empty() {
                    continue;
                }
                let slot = match k.trim() {
                    "Credential" => &mut credential,
                    "SignedHeaders" => &mut signed_headers,
                    "Signature" => &mut signature,
                    _ => continue,
                };
                slot.get_or_insert(v);
            }
        }
        let amz_date_header = request.first_header("x-amz-date").filter(|v| !v.is_empty());
        let date_header = request.first_header("date").filter(|v| !v.is_empty());

        let mut missing = String::new();
        for (present, name) in [
            (credential.is_some(), "Credential"),
            (signature.is_some(), "Signature"),
            (signed_headers.is_some(), "SignedHeaders"),
        ] {
            if !present {
                let _ = write!(
                    missing,
                    "Authorization header requires '{name}' parameter. "
                );
            }
        }
        if amz_date_header.is_none() && date_header.is_none() {
            missing.push_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
            );
        }
        let (Some(credential), Some(signed_headers), Some(signature), true) =
            (credential, signed_headers, signature, missing.is_empty())
        else {
            missing.push_str("Authorization=");
            missing.push_str(value);
            return Err(SigV4Error::IncompleteSignature(missing));
        };

        let (amz_date, request_time) = match (amz_date_header, date_header) {
            (Some(d), _) => (d.to_owned(), parse_amz_date(d).ok_or_else(|| bad_date(d))?),
            (None, Some(d)) => {
                let t = parse_http_date(d).ok_or_else(|| {
                    SigV4Error::IncompleteSignature(format!(
                        "Date header must be in RFC 1123 format. Got '{d}'."
                    ))
                })?;
                (format_amz_date(t), t)
            }
            (None, None) => return Err(SigV4Error::IncompleteSignature(missing)),
        };
        let security_token = request
            .first_header("x-amz-security-token")
            .filter(|t| !t.is_empty())
            .map(SecretString::new);
        self.finish(
            SignatureForm::Header,
            credential,
            signed_headers,
            signature,
            amz_date,
            request_time,
            security_token,
            None,
        )
    }

    fn parse_presigned(&self, p: PresignParams) -> Result<ParsedSignature, SigV4Error> {
        let mut missing = String::new();
        for (value, name) in [
            (&p.algorithm, PRESIGN_PARAMS[0]),
            (&p.credential, PRESIGN_PARAMS[1]),
            (&p.signature, PRESIGN_PARAMS[2]),
            (&p.signed_headers, PRESIGN_PARAMS[3]),
            (&p.date, PRESIGN_PARAMS[4]),
        ] {
            if value.as_deref().is_none_or(str::is_empty) {
                let _ = write!(
                    missing,
                    "AWS query-string parameters must include '{name}'. "
                );
            }
        }
        let (
            Some(algorithm),
            Some(credential),
            Some(signature),
            Some(signed_headers),
            Some(date),
            true,
        ) = (
            p.algorithm,
            p.credential,
            p.signature,
            p.signed_headers,
            p.date,
            missing.is_empty(),
        )
        else {
            missing.push_str("Re-examine the query-string parameters.");
            return Err(SigV4Error::IncompleteSignature(missing));
        };
        if algorithm != ALGORITHM {
            return Err(SigV4Error::IncompleteSignature(format!(
                "X-Amz-Algorithm only supports '{ALGORITHM}'"
            )));
        }
        let request_time = parse_amz_date(&date).ok_or_else(|| bad_date(&date))?;
        let security_token = p
            .security_token
            .filter(|t| !t.is_empty())
            .map(SecretString::new);
        let mut parsed = self.finish(
            SignatureForm::Presigned,
            &credential,
            &signed_headers,
            &signature,
            date,
            request_time,
            security_token,
            None,
        )?;
        parsed.expires = match p.expires.as_deref() {
            None => None,
            Some(e) => Some(presigned_expires(e, parsed.s3)?),
        };
        parsed.content_sha256 = p.content_sha256;
        Ok(parsed)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        form: SignatureForm,
        credential: &str,
        signed_headers: &str,
        signature: &str,
        amz_date: String,
        request_time: SystemTime,
        security_token: Option<SecretString>,
        expires: Option<Duration>,
    ) -> Result<ParsedSignature, SigV4Error> {
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts[..] else {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
            )));
        };
        if terminator != TERMINATOR {
            return Err(SigV4Error::InvalidScope(format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
            )));
        }
        if region.is_empty() {
            return Err(SigV4Error::InvalidScope(
                "Credential should be scoped to a valid region. ".into(),
            ));
        }
        if !self.allowed_services.iter().any(|s| s == service) {
            let expected = self.allowed_services.join("' or '");
            return Err(SigV4Error::InvalidScope(format!(
                "Credential should be scoped to correct service: '{expected}'. "
            )));
        }
        let http_date = amz_date.get(..8).unwrap_or(&amz_date);
        if date != http_date {
            return Err(SigV4Error::InvalidScope(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{http_date}', from '{amz_date}'."
            )));
        }
        if access_key_id.is_empty() {
            return Err(SigV4Error::InvalidClientTokenId);
        }
        let signed_headers: Vec<String> = signed_headers
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !signed_headers.iter().any(|h| h == "host") {
            return Err(SigV4Error::InvalidScope(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
            ));
        }
        Ok(ParsedSignature {
            form,
            access_key_id: access_key_id.to_owned(),
            scope: CredentialScope {
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
            },
            signed_headers,
            amz_date,
            request_time,
            security_token,
            expires,
            signature: signature.to_owned(),
            content_sha256: None,
            s3: self.s3_rules.applies_to(service),
        })
    }
}

/// `X-Amz-Expires`, with S3's messages under S3 rules and STS's otherwise.
fn presigned_expires(value: &str, s3: bool) -> Result<Duration, SigV4Error> {
    let parsed = value.parse::<i64>();
    let message = match (parsed, s3) {
        (Ok(secs), _) if secs >= 1 && secs.unsigned_abs() <= MAX_PRESIGNED_EXPIRES_SECONDS => {
            return Ok(Duration::from_secs(secs.unsigned_abs()));
        }
        (Err(_), true) => "X-Amz-Expires should be a number".to_owned(),
        (Ok(secs), true) if secs < 0 => "X-Amz-Expires must be non-negative".to_owned(),
        // S3 accepts 0 (a URL that is valid only within its own second).
        (Ok(0), true) => return Ok(Duration::ZERO),
        (Ok(_), true) => format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES_SECONDS}"
        ),
        (_, false) => format!(
            "X-Amz-Expires must be a whole number of seconds from 1 to {MAX_PRESIGNED_EXPIRES_SECONDS}; got '{value}'."
        ),
    };
    Err(SigV4Error::InvalidPresignedExpires(message))
}

fn bad_date(got: &str) -> SigV4Error {
    SigV4Error::IncompleteSignature(format!(
        "Date must be in ISO-8601 'basic format'. Got '{got}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

#[derive(Default)]
struct PresignParams {
    algorithm: Option<String>,
    credential: Option<String>,
    signature: Option<String>,
    signed_headers: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    security_token: Option<String>,
    content_sha256: Option<String>,
}

impl PresignParams {
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<String>> {
        Some(match key {
            b"X-Amz-Algorithm" => &mut self.algorithm,
            b"X-Amz-Credential" => &mut self.credential,
            b"X-Amz-Signature" => &mut self.signature,
            b"X-Amz-SignedHeaders" => &mut self.signed_headers,
            b"X-Amz-Date" => &mut self.date,
            b"X-Amz-Expires" => &mut self.expires,
            b"X-Amz-Security-Token" => &mut self.security_token,
            b"X-Amz-Content-Sha256" => &mut self.content_sha256,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20231010T003000Z").unwrap();
        assert_eq!(format_amz_date(t), "20231010T003000Z");
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_696_897_800
        );
        assert!(parse_amz_date("2023-10-10T00:30:00Z").is_none());
        assert!(parse_amz_date("20231010T003000").is_none());
        assert!(parse_amz_date("20231310T003000Z").is_none());
    }

    #[test]
    fn http_dates_parse() {
        let t = parse_http_date("Tue, 10 Oct 2023 00:30:00 GMT").unwrap();
        assert_eq!(format_amz_date(t), "20231010T003000Z");
        assert!(parse_http_date("10 Oct 2023 00:30:00").is_none());
    }
}
