//! aws-chunked bodies: AWS's published worked examples, chunks signed by
//! the real `aws-sigv4` chunk signer, every error path, arbitrary splits,
//! and re-signing for forwarding.

// Test code: helpers outside #[test] fns may unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::http::Headers;
use irsa_core::SecretString;
use irsa_sigv4::aws_chunked::MIN_CHUNK_SIZE;
use irsa_sigv4::{
    AwsChunkedDecoder, AwsChunkedEncoder, ChecksumAlgorithm, Checksummer, ChunkSigningContext,
    ChunkedEvent, ChunkedMode, ChunkedOptions, Payload, PayloadMode, RequestParts, SigV4Config,
    SigV4Error,
};
use proptest::prelude::*;

// ---- AWS's worked examples ----

/// The example credentials of the S3 API reference's streaming pages.
const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2013-05-24T00:00:00Z
const DOC_TIME: u64 = 1_369_353_600;

fn doc_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(DOC_TIME)
}

struct DocExample {
    content_sha256: &'static str,
    signed_headers: &'static str,
    seed: &'static str,
    chunk_signatures: [&'static str; 3],
    trailer: &'static str,
}

/// "Example: PUT Object" of "Transferring Payload in Multiple Chunks"
/// (sigv4-streaming): 65,536 + 1,024 bytes of `a`, then the final chunk.
const STREAMING: DocExample = DocExample {
    content_sha256: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    signed_headers: "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
    seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    chunk_signatures: [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ],
    trailer: "",
};

/// The same upload with a trailing CRC32C ("Signature calculations for
/// trailing headers", sigv4-streaming-trailers).
const STREAMING_TRAILER: DocExample = DocExample {
    content_sha256: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    signed_headers: "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
    seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    chunk_signatures: [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ],
    trailer: "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
};

fn doc_body(example: &DocExample) -> Vec<u8> {
    let mut body = Vec::new();
    for (size, signature) in [65_536_usize, 1024, 0].iter().zip(example.chunk_signatures) {
        body.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'a', *size));
        if *size > 0 {
            body.extend_from_slice(b"\r\n");
        }
    }
    body.extend_from_slice(example.trailer.as_bytes());
    body.extend_from_slice(b"\r\n");
    body
}

struct Owned {
    authorization: String,
    content_length: String,
}

fn doc_request<'a>(example: &DocExample, owned: &'a Owned) -> RequestParts<'a> {
    let mut req = RequestParts::new(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        Payload::Deferred,
    )
    .header("Host", b"s3.amazonaws.com")
    .header("x-amz-date", b"20130524T000000Z")
    .header("x-amz-storage-class", b"REDUCED_REDUNDANCY")
    .header("Authorization", owned.authorization.as_bytes())
    .header("x-amz-content-sha256", example.content_sha256.as_bytes())
    .header("Content-Encoding", b"aws-chunked")
    .header("x-amz-decoded-content-length", b"66560")
    .header("Content-Length", owned.content_length.as_bytes());
    if !example.trailer.is_empty() {
        req = req.header("x-amz-trailer", b"x-amz-checksum-crc32c");
    }
    req
}

fn doc_owned(example: &DocExample) -> Owned {
    Owned {
        authorization: format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders={},Signature={}",
            example.signed_headers, example.seed
        ),
        content_length: doc_body(example).len().to_string(),
    }
}

fn verify_doc(
    example: &DocExample,
    split: usize,
) -> Result<(Vec<u8>, AwsChunkedDecoder), SigV4Error> {
    let owned = doc_owned(example);
    let req = doc_request(example, &owned);
    let config = SigV4Config::s3();
    let parsed = config.parse(&req)?;
    let verified = config.verify(&parsed, &req, &SecretString::new(DOC_SECRET), doc_time())?;
    let mut decoder = verified.chunked_decoder(ChunkedOptions::from_request(&req)?)?;
    let mut out = Vec::new();
    for piece in doc_body(example).chunks(split) {
        decoder.decode_into(piece, &mut out)?;
    }
    decoder.finish()?;
    Ok((out, decoder))
}

#[test]
fn aws_documented_chunked_upload_verifies() {
    let body = doc_body(&STREAMING);
    assert_eq!(body.len(), 66_824, "the documented Content-Length");
    for split in [body.len(), 65_536, 1000, 97, 1] {
        let (out, decoder) = verify_doc(&STREAMING, split).unwrap();
        assert_eq!(out, vec![b'a'; 66_560], "split {split}");
        assert!(decoder.trailers().is_empty());
    }
}

#[test]
fn aws_documented_chunked_upload_with_trailer_verifies() {
    for split in [100_000, 4096, 1] {
        let (out, decoder) = verify_doc(&STREAMING_TRAILER, split).unwrap();
        assert_eq!(out.len(), 66_560);
        assert_eq!(
            decoder.trailers(),
            [("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
        );
    }
}

#[test]
fn aws_documented_signatures_are_the_chain_the_encoder_writes() {
    // The encoder, given the documented key and seed, reproduces the
    // documented body byte for byte.
    for example in [&STREAMING, &STREAMING_TRAILER] {
        let ctx = ChunkSigningContext::new(
            &SecretString::new(DOC_SECRET),
            doc_time(),
            "us-east-1",
            "s3",
            example.seed,
        )
        .unwrap();
        let with_trailer = !example.trailer.is_empty();
        let mut encoder = AwsChunkedEncoder::new(ctx, with_trailer);
        let mut out = Vec::new();
        encoder.encode_chunk(&vec![b'a'; 65_536], &mut out);
        encoder.encode_chunk(&[b'a'; 1024], &mut out);
        let trailers = if with_trailer {
            vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
        } else {
            vec![]
        };
        encoder.finish(&trailers, &mut out).unwrap();
        assert_eq!(out, doc_body(example));
    }
}

#[test]
fn aws_documented_examples_fail_when_touched() {
    // A wrong secret fails the seed; each chunk signature is checked.
    let owned = doc_owned(&STREAMING);
    let req = doc_request(&STREAMING, &owned);
    let config = SigV4Config::s3();
    let parsed = config.parse(&req).unwrap();
    assert_eq!(
        config
            .verify(&parsed, &req, &SecretString::new("other"), doc_time())
            .unwrap_err(),
        SigV4Error::SignatureDoesNotMatch
    );
    let verified = config
        .verify(&parsed, &req, &SecretString::new(DOC_SECRET), doc_time())
        .unwrap();
    assert_eq!(verified.payload_mode(), &PayloadMode::StreamingSigned);
    let body = doc_body(&STREAMING);
    // One data byte of the second chunk, one signature digit of the final
    // chunk, one of the first.
    for at in [65_536 + 88 + 2 + 86 + 10, body.len() - 10, 30] {
        let mut tampered = body.clone();
        tampered[at] = match tampered[at] {
            b'a' => b'b',
            b'0' => b'1',
            _ => b'0',
        };
        let mut decoder = verified
            .chunked_decoder(ChunkedOptions::from_request(&req).unwrap())
            .unwrap();
        let err = decoder.decode_into(&tampered, &mut Vec::new()).unwrap_err();
        assert_eq!(err, SigV4Error::ChunkSignatureDoesNotMatch, "byte {at}");
        assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
        assert_eq!(err.s3_status(), 403);
        // The failure sticks.
        assert_eq!(decoder.finish().unwrap_err(), err);
        assert_eq!(decoder.decode(b"").unwrap_err(), err);
    }
    // Trailer signature and trailer checksum.
    let body = doc_body(&STREAMING_TRAILER);
    let text = String::from_utf8(body.clone()).unwrap();
    let owned = doc_owned(&STREAMING_TRAILER);
    let req = doc_request(&STREAMING_TRAILER, &owned);
    let parsed = config.parse(&req).unwrap();
    let verified = config
        .verify(&parsed, &req, &SecretString::new(DOC_SECRET), doc_time())
        .unwrap();
    for (from, to, expected) in [
        (
            "x-amz-trailer-signature:d81f",
            "x-amz-trailer-signature:e81f",
            SigV4Error::ChunkSignatureDoesNotMatch,
        ),
        // A different (unsigned) checksum breaks the trailer signature.
        ("sOO8/Q==", "AAAAAA==", SigV4Error::ChunkSignatureDoesNotMatch),
        (
            "x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
            "",
            SigV4Error::MalformedTrailer,
        ),
    ] {
        let tampered = text.replace(from, to);
        let mut decoder = verified
            .chunked_decoder(ChunkedOptions::from_request(&req).unwrap())
            .unwrap();
        assert_eq!(
            decoder
                .decode_into(tampered.as_bytes(), &mut Vec::new())
                .unwrap_err(),
            expected,
            "{from} -> {to}"
        );
    }
}

// ---- chunks signed by aws-sigv4 (the SDK's signer) ----

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2023-10-10T00:30:00Z
const T0: u64 = 1_696_897_800;

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Signed,
    SignedTrailer,
    UnsignedTrailer,
}

impl Mode {
    fn header(self) -> &'static str {
        match self {
            Self::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Self::SignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Self::UnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }
}

/// A PUT as an SDK sends it in `mode`: headers signed by aws-sigv4, chunks
/// of `chunk` bytes signed by aws-sigv4's `sign_chunk`/`sign_trailer`.
struct SdkUpload {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn sdk_upload(
    mode: Mode,
    secret: &str,
    data: &[u8],
    chunk: usize,
    checksum: Option<ChecksumAlgorithm>,
) -> SdkUpload {
    // aws-sigv4 adds x-amz-content-sha256 (the payload mode) itself.
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), "s3.us-east-1.amazonaws.com".into()),
        ("content-encoding".into(), "aws-chunked".into()),
        (
            "x-amz-decoded-content-length".into(),
            data.len().to_string(),
        ),
    ];
    if let Some(a) = checksum {
        headers.push(("x-amz-trailer".into(), a.header_name().into()));
    }
    let identity: Identity = Credentials::new(AK, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let make_params = || {
        v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(t0())
            .settings(settings.clone())
            .build()
            .unwrap()
    };
    let signing_params = make_params();
    let body_kind = match mode {
        Mode::Signed => SignableBody::Precomputed(mode.header().to_owned()),
        Mode::SignedTrailer => SignableBody::StreamingSignedPayloadTrailer,
        Mode::UnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
    };
    let signable = SignableRequest::new(
        "PUT",
        "https://s3.us-east-1.amazonaws.com/bucket/object",
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body_kind,
    )
    .unwrap();
    let (instructions, seed) = sign(signable, &make_params().into()).unwrap().into_parts();
    for (name, value) in instructions.headers() {
        headers.retain(|(n, _)| n != name);
        headers.push((name.to_owned(), value.to_owned()));
    }
    let mut body = Vec::new();
    let mut running = seed;
    let signed = mode != Mode::UnsignedTrailer;
    let mut pieces: Vec<&[u8]> = data.chunks(chunk.max(1)).collect();
    pieces.push(&[]);
    for piece in pieces {
        if signed {
            let sig = v4::sign_chunk(
                &bytes::Bytes::copy_from_slice(piece),
                &running,
                &signing_params,
            )
            .unwrap()
            .into_parts()
            .1;
            body.extend_from_slice(
                format!("{:x};chunk-signature={sig}\r\n", piece.len()).as_bytes(),
            );
            running = sig;
        } else {
            // aws-smithy-http writes unsigned sizes in upper-case hex.
            body.extend_from_slice(format!("{:X}\r\n", piece.len()).as_bytes());
        }
        if !piece.is_empty() {
            body.extend_from_slice(piece);
            body.extend_from_slice(b"\r\n");
        }
    }
    match mode {
        Mode::Signed => body.extend_from_slice(b"\r\n"),
        Mode::SignedTrailer | Mode::UnsignedTrailer => {
            let mut trailers = Headers::new();
            if let Some(a) = checksum {
                let mut c = Checksummer::new(a);
                c.update(data);
                let value = c.to_base64();
                body.extend_from_slice(format!("{}:{value}\r\n", a.header_name()).as_bytes());
                trailers.insert(a.header_name(), value);
            }
            if mode == Mode::SignedTrailer {
                let sig = v4::sign_trailer(&trailers, &running, &signing_params)
                    .unwrap()
                    .into_parts()
                    .1;
                body.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
        }
    }
    headers.push(("content-length".into(), body.len().to_string()));
    SdkUpload { headers, body }
}

impl SdkUpload {
    fn request(&self) -> RequestParts<'_> {
        let mut req = RequestParts::new("PUT", "/bucket/object", "", Payload::Deferred);
        for (n, v) in &self.headers {
            req = req.header(n, v.as_bytes());
        }
        req
    }

    fn decoder_with(
        &self,
        secret: &str,
        options: ChunkedOptions,
    ) -> Result<AwsChunkedDecoder, SigV4Error> {
        let req = self.request();
        let config = SigV4Config::s3();
        let parsed = config.parse(&req)?;
        let verified = config.verify(&parsed, &req, &SecretString::new(secret), t0())?;
        verified.chunked_decoder(options)
    }

    fn decoder(&self) -> AwsChunkedDecoder {
        let options = ChunkedOptions::from_request(&self.request()).unwrap();
        self.decoder_with(SK, options).unwrap()
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i * 7 % 251).unwrap())
        .collect()
}

/// Printable data, for tests that edit the body as text.
fn ascii(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + u8::try_from(i % 26).unwrap())
        .collect()
}

fn decode_all(
    decoder: &mut AwsChunkedDecoder,
    body: &[u8],
    split: usize,
) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::new();
    for piece in body.chunks(split.max(1)) {
        decoder.decode_into(piece, &mut out)?;
    }
    decoder.finish()?;
    Ok(out)
}

#[test]
fn sdk_signed_streams_verify_in_every_mode_and_checksum() {
    let payload = data(200_000);
    for mode in [Mode::Signed, Mode::SignedTrailer, Mode::UnsignedTrailer] {
        let checksums: Vec<Option<ChecksumAlgorithm>> = if mode == Mode::Signed {
            vec![None]
        } else {
            std::iter::once(None)
                .chain(ChecksumAlgorithm::ALL.into_iter().map(Some))
                .collect()
        };
        for checksum in checksums {
            let upload = sdk_upload(mode, SK, &payload, 65_536, checksum);
            let mut decoder = upload.decoder();
            let out = decode_all(&mut decoder, &upload.body, 7_777).unwrap();
            assert_eq!(out, payload, "{mode:?} {checksum:?}");
            assert_eq!(decoder.decoded_len(), 200_000);
            assert_eq!(decoder.trailers().len(), usize::from(checksum.is_some()));
        }
    }
}

#[test]
fn empty_and_single_chunk_bodies() {
    for mode in [Mode::Signed, Mode::SignedTrailer, Mode::UnsignedTrailer] {
        for len in [0, 1, 8191] {
            let payload = data(len);
            let checksum = (mode != Mode::Signed).then_some(ChecksumAlgorithm::Crc32);
            let upload = sdk_upload(mode, SK, &payload, 65_536, checksum);
            let out = decode_all(&mut upload.decoder(), &upload.body, 3).unwrap();
            assert_eq!(out, payload, "{mode:?} {len}");
        }
    }
}

#[test]
fn events_mark_chunk_boundaries() {
    let payload = data(20_000);
    let upload = sdk_upload(Mode::Signed, SK, &payload, 8192, None);
    let mut decoder = upload.decoder();
    let mut input = upload.body.as_slice();
    let mut events = Vec::new();
    loop {
        let (used, event) = decoder.decode(input).unwrap();
        input = &input[used..];
        match event {
            ChunkedEvent::Data(d) => events.push(format!("data {}", d.len())),
            ChunkedEvent::ChunkEnd { len } => events.push(format!("end {len}")),
            ChunkedEvent::End => {
                events.push("done".into());
                break;
            }
            ChunkedEvent::NeedInput => panic!("whole body given"),
        }
    }
    assert_eq!(
        events,
        [
            "data 8192",
            "end 8192",
            "data 8192",
            "end 8192",
            "data 3616",
            "end 3616",
            "done"
        ]
    );
    assert!(decoder.is_done());
    // End comes once; then there is nothing more to wait for.
    assert_eq!(decoder.decode(b"").unwrap(), (0, ChunkedEvent::NeedInput));
    decoder.finish().unwrap();
}

// ---- every error ----

fn signed_upload() -> (Vec<u8>, SdkUpload) {
    let payload = ascii(20_000);
    let upload = sdk_upload(
        Mode::SignedTrailer,
        SK,
        &payload,
        10_000,
        Some(ChecksumAlgorithm::Crc32c),
    );
    (payload, upload)
}

fn decode_err(upload: &SdkUpload, body: &[u8]) -> SigV4Error {
    decode_all(&mut upload.decoder(), body, body.len()).unwrap_err()
}

#[test]
fn truncated_bodies_are_incomplete_at_every_length() {
    let (_, upload) = signed_upload();
    let body = &upload.body;
    for cut in 0..body.len() {
        let mut decoder = upload.decoder();
        let mut out = Vec::new();
        let ended = decoder.decode_into(&body[..cut], &mut out).unwrap();
        assert!(!ended, "cut {cut}");
        let err = decoder.finish().unwrap_err();
        assert_eq!(err, SigV4Error::IncompleteBody, "cut {cut}");
        assert_eq!(err.s3_code(), "IncompleteBody");
        assert_eq!(err.s3_status(), 400);
    }
}

#[test]
fn framing_errors() {
    let (_, upload) = signed_upload();
    let text = String::from_utf8(upload.body.clone()).unwrap();
    let first_sig = &text[text.find('=').unwrap() + 1..text.find('=').unwrap() + 65];
    let cases: Vec<(String, SigV4Error)> = vec![
        (
            text.replacen("2710;", "zz10;", 1),
            SigV4Error::MalformedChunkedBody("a chunk size must be 1 to 16 hex digits"),
        ),
        (
            text.replacen("2710;", ";", 1),
            SigV4Error::MalformedChunkedBody("a chunk size must be 1 to 16 hex digits"),
        ),
        (
            text.replacen("2710;chunk-signature=", "2710;chunk-signatures=", 1),
            SigV4Error::MalformedChunkedBody("expected ';chunk-signature='"),
        ),
        (
            text.replacen(&format!(";chunk-signature={first_sig}"), "", 1),
            SigV4Error::MalformedChunkedBody("a signed chunk needs ';chunk-signature='"),
        ),
        (
            text.replacen(first_sig, &first_sig[1..], 1),
            SigV4Error::MalformedChunkedBody("a chunk signature must be 64 hex digits"),
        ),
        (
            text.replacen(&format!("{first_sig}\r\n"), &format!("{first_sig}\n"), 1),
            SigV4Error::MalformedChunkedBody("a chunk-size line must end with CRLF"),
        ),
        // A chunk longer than its size line: data where CRLF should be.
        (
            text.replacen("2710;", "270f;", 1),
            SigV4Error::MalformedChunkedBody("chunk data must end with CRLF"),
        ),
        (
            format!("{text}x"),
            SigV4Error::MalformedChunkedBody("data after the final chunk"),
        ),
    ];
    for (body, expected) in cases {
        let err = decode_err(&upload, body.as_bytes());
        assert_eq!(err, expected);
        assert_eq!(err.s3_code(), "IncompleteBody", "{expected:?}");
    }
    // The non-trailer mode needs its closing CRLF.
    let payload = data(10);
    let plain = sdk_upload(Mode::Signed, SK, &payload, 100, None);
    let mut body = plain.body.clone();
    let n = body.len();
    body[n - 1] = b'x';
    assert_eq!(
        decode_err(&plain, &body),
        SigV4Error::MalformedChunkedBody("the final chunk must end with CRLF")
    );
    // Unsigned chunks carry no signature extension.
    let unsigned = sdk_upload(Mode::UnsignedTrailer, SK, &payload, 100, None);
    let body = String::from_utf8(unsigned.body.clone()).unwrap().replacen(
        "A\r\n",
        "A;chunk-signature=00\r\n",
        1,
    );
    assert_eq!(
        decode_err(&unsigned, body.as_bytes()),
        SigV4Error::MalformedChunkedBody("an unsigned chunk carries no extension")
    );
}

#[test]
fn decoded_length_must_match() {
    let payload = data(20_000);
    let upload = sdk_upload(Mode::Signed, SK, &payload, 10_000, None);
    for (declared, received) in [(19_999, 20_000), (30_000, 20_000), (0, 10_000)] {
        let options = ChunkedOptions {
            decoded_content_length: Some(declared),
            ..ChunkedOptions::default()
        };
        let mut decoder = upload.decoder_with(SK, options).unwrap();
        let err = decode_all(&mut decoder, &upload.body, 999).unwrap_err();
        assert_eq!(
            err,
            SigV4Error::DecodedLengthMismatch {
                expected: declared,
                received
            }
        );
        assert_eq!(err.s3_code(), "IncompleteBody");
        assert_eq!(
            err.s3_error_fields(),
            [
                ("NumberBytesExpected", declared.to_string()),
                ("NumberBytesProvided", received.to_string())
            ]
        );
    }
    // No declared length: anything goes.
    let mut decoder = upload.decoder_with(SK, ChunkedOptions::default()).unwrap();
    assert_eq!(
        decode_all(&mut decoder, &upload.body, 999).unwrap(),
        payload
    );
    // An unparsable header.
    let req = RequestParts::new("PUT", "/", "", Payload::Deferred)
        .header("x-amz-decoded-content-length", b"-1");
    assert_eq!(
        ChunkedOptions::from_request(&req).unwrap_err().s3_code(),
        "InvalidRequest"
    );
}

#[test]
fn chunk_size_rules_and_limits() {
    let payload = data(20_000);
    // S3: only the last chunk may be under 8 KiB.
    let small = sdk_upload(Mode::Signed, SK, &payload, 4096, None);
    let err = decode_err(&small, &small.body);
    // S3 names the chunk after the short one, and the short one's size.
    assert_eq!(
        err,
        SigV4Error::InvalidChunkSize {
            min: MIN_CHUNK_SIZE,
            chunk: 2,
            bad_chunk_size: 4096
        }
    );
    assert_eq!(
        err.s3_error_fields(),
        [
            ("Chunk", "2".to_owned()),
            ("BadChunkSize", "4096".to_owned())
        ]
    );
    assert_eq!(err.s3_code(), "InvalidChunkSizeError");
    assert_eq!(
        err.s3_message(),
        "Only the last chunk is allowed to have a size less than 8192 bytes"
    );
    let relaxed = ChunkedOptions {
        min_chunk_size: 0,
        ..ChunkedOptions::from_request(&small.request()).unwrap()
    };
    let mut decoder = small.decoder_with(SK, relaxed).unwrap();
    assert_eq!(decode_all(&mut decoder, &small.body, 100).unwrap(), payload);

    // Our largest chunk.
    let big = sdk_upload(Mode::Signed, SK, &payload, 20_000, None);
    let limited = ChunkedOptions {
        max_chunk_size: 19_999,
        ..ChunkedOptions::from_request(&big.request()).unwrap()
    };
    let mut decoder = big.decoder_with(SK, limited).unwrap();
    let err = decode_all(&mut decoder, &big.body, 100).unwrap_err();
    assert!(matches!(err, SigV4Error::LimitExceeded(_)), "{err:?}");
    assert_eq!(err.s3_code(), "InvalidRequest");

    // An endless chunk-size line is refused without being buffered.
    let mut decoder = big.decoder();
    let endless = vec![b'0'; 1 << 20];
    let err = decoder.decode_into(&endless, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, SigV4Error::LimitExceeded(_)), "{err:?}");
    // 17 hex digits overflow.
    let mut decoder = big.decoder();
    let err = decoder
        .decode_into(b"10000000000000000;chunk-signature=", &mut Vec::new())
        .and_then(|_| decoder.decode_into(&[b'0'; 64], &mut Vec::new()))
        .and_then(|_| decoder.decode_into(b"\r\n", &mut Vec::new()))
        .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::MalformedChunkedBody("a chunk size must be 1 to 16 hex digits")
    );
}

#[test]
fn trailer_errors() {
    let payload = ascii(100);
    let upload = sdk_upload(
        Mode::UnsignedTrailer,
        SK,
        &payload,
        100,
        Some(ChecksumAlgorithm::Crc32),
    );
    let text = String::from_utf8(upload.body.clone()).unwrap();
    let (_, checksum_line) = text.split_once("0\r\n").unwrap();
    let value = checksum_line
        .trim_end()
        .strip_prefix("x-amz-checksum-crc32:")
        .unwrap()
        .to_owned();
    let cases: Vec<(String, SigV4Error)> = vec![
        // Another checksum value: BadDigest with S3's message.
        (
            text.replace(&value, "AAAAAA=="),
            SigV4Error::BadDigest {
                algorithm: ChecksumAlgorithm::Crc32,
            },
        ),
        (
            text.replace(&value, "AAAA"),
            SigV4Error::InvalidChecksum {
                header: "x-amz-checksum-crc32 trailing".into(),
            },
        ),
        // Missing, undeclared, duplicated, nameless trailers.
        (
            text.replace(&format!("x-amz-checksum-crc32:{value}\r\n"), ""),
            SigV4Error::MalformedTrailer,
        ),
        (
            text.replace("x-amz-checksum-crc32:", "x-amz-checksum-sha1:"),
            SigV4Error::MalformedTrailer,
        ),
        (
            text.replace(
                &format!("x-amz-checksum-crc32:{value}\r\n"),
                &format!("x-amz-checksum-crc32:{value}\r\nx-amz-meta-a:b\r\n"),
            ),
            SigV4Error::MalformedTrailer,
        ),
        (
            text.replace(&format!("x-amz-checksum-crc32:{value}"), "no colon"),
            SigV4Error::MalformedTrailer,
        ),
        // A trailer signature in the unsigned mode.
        (
            text.replace(
                &format!("x-amz-checksum-crc32:{value}\r\n"),
                &format!(
                    "x-amz-checksum-crc32:{value}\r\nx-amz-trailer-signature:{}\r\n",
                    "0".repeat(64)
                ),
            ),
            SigV4Error::MalformedTrailer,
        ),
        (
            text.replace(
                &format!("x-amz-checksum-crc32:{value}\r\n"),
                &format!(
                    "x-amz-checksum-crc32:{value}\r\nx-amz-meta-pad:{}\r\n",
                    "p".repeat(20_000)
                ),
            ),
            SigV4Error::LimitExceeded("The trailer section is longer than 16384 bytes.".into()),
        ),
    ];
    for (body, expected) in cases {
        let err = decode_err(&upload, body.as_bytes());
        assert_eq!(err, expected, "{body:?}");
    }
    let err = decode_err(&upload, text.replace(&value, "AAAAAA==").as_bytes());
    assert_eq!(err.s3_code(), "BadDigest");
    assert_eq!(
        err.s3_message(),
        "The CRC32 you specified did not match the calculated checksum."
    );
    assert_eq!(
        SigV4Error::MalformedTrailer.s3_code(),
        "MalformedTrailerError"
    );

    // x-amz-trailer must name one checksum.
    for bad in ["x-amz-meta-a", "x-amz-checksum-crc32,x-amz-checksum-sha1"] {
        let req = RequestParts::new("PUT", "/", "", Payload::Deferred)
            .header("x-amz-trailer", bad.as_bytes());
        let err = ChunkedOptions::from_request(&req).unwrap_err();
        assert_eq!(
            err.s3_message(),
            "The value specified in the x-amz-trailer header is not supported"
        );
    }
    // A trailer declared for a mode without trailers.
    let ctx = ChunkSigningContext::new(
        &SecretString::new(SK),
        t0(),
        "us-east-1",
        "s3",
        &"0".repeat(64),
    )
    .unwrap();
    let options = ChunkedOptions {
        trailer_checksum: Some(ChecksumAlgorithm::Crc32),
        ..ChunkedOptions::default()
    };
    assert!(AwsChunkedDecoder::new(ChunkedMode::Signed(ctx), options).is_err());
}

#[test]
fn header_checksum_with_signed_chunks() {
    let payload = data(9000);
    let upload = sdk_upload(Mode::Signed, SK, &payload, 9000, None);
    let mut c = Checksummer::new(ChecksumAlgorithm::Sha256);
    c.update(&payload);
    for (value, ok) in [
        (c.to_base64(), true),
        (
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_owned(),
            false,
        ),
    ] {
        let req = upload
            .request()
            .header("x-amz-checksum-sha256", value.as_bytes());
        let options = ChunkedOptions::from_request(&req).unwrap();
        let mut decoder = upload.decoder_with(SK, options).unwrap();
        let result = decode_all(&mut decoder, &upload.body, 1000);
        if ok {
            assert_eq!(result.unwrap(), payload);
        } else {
            assert_eq!(
                result.unwrap_err(),
                SigV4Error::BadDigest {
                    algorithm: ChecksumAlgorithm::Sha256
                }
            );
        }
    }
}

#[test]
fn streaming_modes_need_their_decoder() {
    let payload = data(10);
    let upload = sdk_upload(Mode::UnsignedTrailer, SK, &payload, 10, None);
    let req = upload.request();
    let config = SigV4Config::s3();
    let parsed = config.parse(&req).unwrap();
    let verified = config
        .verify(&parsed, &req, &SecretString::new(SK), t0())
        .unwrap();
    assert_eq!(
        verified.payload_mode(),
        &PayloadMode::StreamingUnsignedTrailer
    );
    assert!(verified.payload_check(&req).is_err());
}

// ---- re-signing for forwarding ----

/// Decodes `body` and re-frames it, chunk for chunk, with `encoder`.
fn resign(
    decoder: &mut AwsChunkedDecoder,
    body: &[u8],
    encoder: &mut AwsChunkedEncoder,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pending = Vec::new();
    for piece in body.chunks(5000) {
        let mut input = piece;
        loop {
            let (used, event) = decoder.decode(input).unwrap();
            input = &input[used..];
            match event {
                ChunkedEvent::Data(d) => pending.extend_from_slice(d),
                ChunkedEvent::ChunkEnd { .. } => {
                    encoder.encode_chunk(&pending, &mut out);
                    pending.clear();
                }
                ChunkedEvent::End => {
                    encoder.finish(decoder.trailers(), &mut out).unwrap();
                    break;
                }
                ChunkedEvent::NeedInput => break,
            }
        }
    }
    decoder.finish().unwrap();
    out
}

#[test]
fn resigned_streams_verify_with_the_new_key_only() {
    const GATEWAY_SECRET: &str = "gateway/secret/key/B";
    let payload = data(100_000);
    for (mode, checksum) in [
        (Mode::Signed, None),
        (Mode::SignedTrailer, Some(ChecksumAlgorithm::Crc64Nvme)),
    ] {
        let upload = sdk_upload(mode, SK, &payload, 32_768, checksum);
        // The gateway signs its upstream request (here: the same headers
        // with key B) and chains its chunks from that seed.
        let upstream = sdk_upload(mode, GATEWAY_SECRET, &payload, 32_768, checksum);
        let seed = {
            let req = upstream.request();
            let auth =
                std::str::from_utf8(req.header_values("authorization").next().unwrap()).unwrap();
            auth.rsplit_once("Signature=").unwrap().1.to_owned()
        };
        let gateway_ctx = ChunkSigningContext::new(
            &SecretString::new(GATEWAY_SECRET),
            t0(),
            "us-east-1",
            "s3",
            &seed,
        )
        .unwrap();
        let mut encoder = AwsChunkedEncoder::new(gateway_ctx, mode == Mode::SignedTrailer);
        let resigned = resign(&mut upload.decoder(), &upload.body, &mut encoder);
        // Same boundaries, same signature lengths: the same Content-Length.
        assert_eq!(resigned.len(), upload.body.len());
        // It is exactly what the SDK would have sent with key B.
        assert_eq!(resigned, upstream.body, "{mode:?}");
        // Key B verifies it, key A does not.
        let mut with_b = upstream
            .decoder_with(
                GATEWAY_SECRET,
                ChunkedOptions::from_request(&upstream.request()).unwrap(),
            )
            .unwrap();
        assert_eq!(decode_all(&mut with_b, &resigned, 4096).unwrap(), payload);
        let key_a_same_seed =
            ChunkSigningContext::new(&SecretString::new(SK), t0(), "us-east-1", "s3", &seed)
                .unwrap();
        let mode_a = if mode == Mode::Signed {
            ChunkedMode::Signed(key_a_same_seed)
        } else {
            ChunkedMode::SignedWithTrailer(key_a_same_seed)
        };
        let mut with_a = AwsChunkedDecoder::new(
            mode_a,
            ChunkedOptions::from_request(&upstream.request()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            decode_all(&mut with_a, &resigned, 4096).unwrap_err(),
            SigV4Error::ChunkSignatureDoesNotMatch
        );
        // And the client's original body does not verify under key B.
        let mut with_b = upstream
            .decoder_with(
                GATEWAY_SECRET,
                ChunkedOptions::from_request(&upstream.request()).unwrap(),
            )
            .unwrap();
        assert_eq!(
            decode_all(&mut with_b, &upload.body, 4096).unwrap_err(),
            SigV4Error::ChunkSignatureDoesNotMatch
        );
    }
}

#[test]
fn encoder_refuses_trailers_without_trailer_mode() {
    let ctx = ChunkSigningContext::new(
        &SecretString::new(SK),
        t0(),
        "us-east-1",
        "s3",
        &"0".repeat(64),
    )
    .unwrap();
    let mut encoder = AwsChunkedEncoder::new(ctx, false);
    let mut out = Vec::new();
    encoder.encode_chunk(b"", &mut out);
    assert!(out.is_empty(), "an empty chunk would end the body");
    assert!(encoder
        .finish(
            &[("x-amz-checksum-crc32".into(), "AAAAAA==".into())],
            &mut out
        )
        .is_err());
}

// ---- any split, any payload ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_split_decodes_the_same(
        len in 0usize..40_000,
        chunk in 8192usize..20_000,
        splits in proptest::collection::vec(1usize..3000, 1..40),
        mode_index in 0usize..3,
        checksum_index in 0usize..6,
    ) {
        let mode = [Mode::Signed, Mode::SignedTrailer, Mode::UnsignedTrailer][mode_index];
        let checksum = if mode == Mode::Signed {
            None
        } else {
            [None, Some(ChecksumAlgorithm::Crc32), Some(ChecksumAlgorithm::Crc32c),
             Some(ChecksumAlgorithm::Crc64Nvme), Some(ChecksumAlgorithm::Sha1),
             Some(ChecksumAlgorithm::Sha256)][checksum_index]
        };
        let payload = data(len);
        let upload = sdk_upload(mode, SK, &payload, chunk, checksum);
        let mut decoder = upload.decoder();
        let mut out = Vec::new();
        let mut rest = upload.body.as_slice();
        let mut i = 0;
        while !rest.is_empty() {
            let n = splits[i % splits.len()].min(rest.len());
            decoder.decode_into(&rest[..n], &mut out).unwrap();
            rest = &rest[n..];
            i += 1;
        }
        decoder.finish().unwrap();
        prop_assert_eq!(out, payload);
    }

    #[test]
    fn any_flipped_byte_is_caught(
        len in 1usize..20_000,
        at_fraction in 0.0f64..1.0,
        mode_index in 0usize..2,
    ) {
        // Signed modes: no byte of the body can change unnoticed.
        let mode = [Mode::Signed, Mode::SignedTrailer][mode_index];
        let checksum = (mode == Mode::SignedTrailer).then_some(ChecksumAlgorithm::Crc32);
        let payload = data(len);
        let upload = sdk_upload(mode, SK, &payload, 8192, checksum);
        let mut body = upload.body.clone();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let at = ((body.len() as f64) * at_fraction) as usize % body.len();
        body[at] ^= 0x01;
        let result = decode_all(&mut upload.decoder(), &body, 1000);
        prop_assert!(result.is_err(), "flipped byte {} of {}", at, body.len());
    }

    #[test]
    fn garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400), signed in any::<bool>()) {
        let mode = if signed {
            ChunkedMode::Signed(ChunkSigningContext::new(&SecretString::new(SK), t0(), "r", "s3", &"0".repeat(64)).unwrap())
        } else {
            ChunkedMode::UnsignedWithTrailer
        };
        let mut decoder = AwsChunkedDecoder::new(mode, ChunkedOptions { min_chunk_size: 0, ..ChunkedOptions::default() }).unwrap();
        let _ = decoder.decode_into(&body, &mut Vec::new());
        let _ = decoder.finish();
    }
}
