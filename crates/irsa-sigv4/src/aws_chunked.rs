//! The aws-chunked body encoding of S3 streaming uploads, sans I/O.
//!
//! Wire format (`Content-Encoding: aws-chunked`), per AWS's "Transferring
//! payload in multiple chunks" and "Signature calculations for trailing
//! headers":
//!
//! ```text
//! <hex size>;chunk-signature=<64 hex>\r\n      (unsigned modes: <hex size>\r\n)
//! <size bytes of data>\r\n
//! …
//! 0;chunk-signature=<64 hex>\r\n                (the final, empty chunk)
//! \r\n                                          (no trailer), or
//! x-amz-checksum-crc32:<base64>\r\n             (trailer modes)
//! x-amz-trailer-signature:<64 hex>\r\n          (signed trailer mode)
//! \r\n
//! ```
//!
//! Chunk `n` is signed over `AWS4-HMAC-SHA256-PAYLOAD\n<x-amz-date>\n<scope>\n
//! <signature of chunk n-1, the first chained from the request's seed
//! signature>\n<sha256("")>\n<sha256(chunk data)>`; the trailer over
//! `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<final chunk's signature>\n
//! <sha256 of each trailer as "name:value\n", sorted by name>`.
//!
//! [`AwsChunkedDecoder`] is a state machine fed arbitrary slices of the raw
//! body; [`AwsChunkedEncoder`] frames and signs chunks for forwarding.
//!
//! What S3 answers for each fault (from its error-code list; the framing
//! codes as S3-compatible gateways tested against S3 observed them):
//! a wrong chunk or trailer signature `SignatureDoesNotMatch` (403); a body
//! that ends early or whose framing is broken `IncompleteBody` (400); a
//! decoded length other than `x-amz-decoded-content-length`
//! `IncompleteBody` (400); a non-final chunk under 8 KiB
//! `InvalidChunkSizeError` (400); a bad trailer section
//! `MalformedTrailerError` (400); a checksum that differs `BadDigest` (400).

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::checksum::{header_checksum, ChecksumAlgorithm, Checksummer, ExpectedChecksum};
use crate::signing::{signatures_equal, ChunkSigningContext};
use crate::{RequestParts, SigV4Error};

/// S3's smallest chunk but the last: 8 KiB.
pub const MIN_CHUNK_SIZE: u64 = 8 * 1024;

/// The default largest chunk: 16 MiB. SDKs send 64 KiB (aws-sdk-java,
/// minio-go) to a few MiB; the bound matters because a gateway that
/// re-signs chunks must hold a whole chunk before it can sign it, so it is
/// the memory one upload may pin.
pub const DEFAULT_MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;

/// The default longest chunk-size line (`<hex>;chunk-signature=<64 hex>`
/// is at most 97 bytes with its CRLF).
pub const DEFAULT_MAX_LINE_LEN: usize = 1024;

/// The default largest trailer section: a checksum and a signature need
/// about 150 bytes.
pub const DEFAULT_MAX_TRAILER_LEN: usize = 16 * 1024;

const SIGNATURE_EXT: &[u8] = b"chunk-signature=";
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// Which aws-chunked variant a body uses, with what its signatures chain
/// from.
#[derive(Debug, Clone)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    Signed(ChunkSigningContext),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    SignedWithTrailer(ChunkSigningContext),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    UnsignedWithTrailer,
}

/// What the request headers say about an aws-chunked body, and the limits
/// of its decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedOptions {
    /// `x-amz-decoded-content-length`: the decoded body must be exactly
    /// this long.
    pub decoded_content_length: Option<u64>,
    /// The checksum trailer `x-amz-trailer` declares; the trailer section
    /// must carry it and nothing else, and it must match the decoded bytes.
    pub trailer_checksum: Option<ChecksumAlgorithm>,
    /// An `x-amz-checksum-*` request header to check the decoded bytes
    /// against (clients that sign chunks may send the checksum up front).
    pub header_checksum: Option<ExpectedChecksum>,
    /// Chunks but the last must be at least this long (S3: 8 KiB; 0 turns
    /// the rule off).
    pub min_chunk_size: u64,
    pub max_chunk_size: u64,
    pub max_line_len: usize,
    pub max_trailer_len: usize,
}

impl Default for ChunkedOptions {
    fn default() -> Self {
        Self {
            decoded_content_length: None,
            trailer_checksum: None,
            header_checksum: None,
            min_chunk_size: MIN_CHUNK_SIZE,
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
            max_line_len: DEFAULT_MAX_LINE_LEN,
            max_trailer_len: DEFAULT_MAX_TRAILER_LEN,
        }
    }
}

impl ChunkedOptions {
    /// Options from the request headers `x-amz-decoded-content-length`,
    /// `x-amz-trailer` and `x-amz-checksum-*`, with default limits.
    pub fn from_request(request: &RequestParts<'_>) -> Result<Self, SigV4Error> {
        let decoded_content_length = match request.first_header("x-amz-decoded-content-length") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                SigV4Error::InvalidRequest(format!("Invalid x-amz-decoded-content-length '{v}'."))
            })?),
        };
        let trailer_checksum = match request.first_header("x-amz-trailer") {
            None | Some("") => None,
            Some(names) => {
                let mut names = names.split(',').map(str::trim).filter(|n| !n.is_empty());
                let first = names.next().and_then(ChecksumAlgorithm::from_header_name);
                match (first, names.next()) {
                    (Some(algorithm), None) => Some(algorithm),
                    _ => {
                        return Err(SigV4Error::InvalidRequest(
                            "The value specified in the x-amz-trailer header is not supported"
                                .to_owned(),
                        ))
                    }
                }
            }
        };
        let header_checksum = header_checksum(&request.headers)?;
        if trailer_checksum.is_some() && header_checksum.is_some() {
            return Err(SigV4Error::InvalidRequest(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                    .to_owned(),
            ));
        }
        Ok(Self {
            decoded_content_length,
            trailer_checksum,
            header_checksum,
            ..Self::default()
        })
    }
}

/// What the decoder found in the bytes fed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkedEvent<'a> {
    /// Decoded body bytes, borrowed from the input. They are authentic only
    /// once the [`ChunkedEvent::ChunkEnd`] of their chunk (signed modes) or
    /// [`ChunkedEvent::End`] (checksums, length) follows: do not commit them
    /// before.
    Data(&'a [u8]),
    /// A data chunk of `len` bytes ended; in signed modes its signature
    /// verified. (The final, empty chunk has no such event.)
    ChunkEnd { len: u64 },
    /// The body ended: final chunk, trailers, their signature, checksums
    /// and length all verified. Trailers are in
    /// [`AwsChunkedDecoder::trailers`]. Reported once.
    End,
    /// Every byte given was consumed; feed more (or call
    /// [`AwsChunkedDecoder::finish`] at the end of the body). Also the
    /// answer to empty input after [`ChunkedEvent::End`].
    NeedInput,
}

#[derive(Debug, Clone)]
enum State {
    SizeLine,
    Data,
    /// Expecting the CRLF after a chunk's data; `seen` bytes of it so far.
    DataCrlf {
        seen: usize,
    },
    Trailers,
    FinalCrlf {
        seen: usize,
    },
    Done,
    Failed(SigV4Error),
}

/// Decodes and verifies an aws-chunked body, fed in slices of any size.
///
/// ```text
/// loop over body pieces:
///     let mut rest = piece;
///     loop {
///         let (used, event) = decoder.decode(rest)?;
///         rest = &rest[used..];
///         match event { Data(d) => …, ChunkEnd { .. } => …, End => …, NeedInput => break }
///     }
/// at the end of the body: decoder.finish()?
/// ```
pub struct AwsChunkedDecoder {
    signing: Option<ChunkSigningContext>,
    has_trailer: bool,
    options: ChunkedOptions,
    state: State,
    /// The chunk-size line or trailer section being read.
    line: Vec<u8>,
    chunk_hash: Sha256,
    chunk_signature: Option<[u8; 64]>,
    chunk_len: u64,
    chunk_remaining: u64,
    previous_chunk_len: Option<u64>,
    /// Chunk-size lines read so far (S3 numbers chunks from 1).
    chunk_count: u64,
    decoded_len: u64,
    checksum: Option<Checksummer>,
    trailers: Vec<(String, String)>,
}

impl fmt::Debug for AwsChunkedDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsChunkedDecoder")
            .field("signed", &self.signing.is_some())
            .field("has_trailer", &self.has_trailer)
            .field("state", &self.state)
            .field("decoded_len", &self.decoded_len)
            .finish_non_exhaustive()
    }
}

impl AwsChunkedDecoder {
    pub fn new(mode: ChunkedMode, options: ChunkedOptions) -> Result<Self, SigV4Error> {
        let (signing, has_trailer) = match mode {
            ChunkedMode::Signed(ctx) => (Some(ctx), false),
            ChunkedMode::SignedWithTrailer(ctx) => (Some(ctx), true),
            ChunkedMode::UnsignedWithTrailer => (None, true),
        };
        if options.trailer_checksum.is_some() && !has_trailer {
            return Err(SigV4Error::InvalidRequest(
                "x-amz-trailer needs a STREAMING-…-TRAILER payload.".to_owned(),
            ));
        }
        let checksum = options
            .trailer_checksum
            .or_else(|| {
                options
                    .header_checksum
                    .as_ref()
                    .map(ExpectedChecksum::algorithm)
            })
            .map(Checksummer::new);
        Ok(Self {
            signing,
            has_trailer,
            options,
            state: State::SizeLine,
            line: Vec::new(),
            chunk_hash: Sha256::new(),
            chunk_signature: None,
            chunk_len: 0,
            chunk_remaining: 0,
            previous_chunk_len: None,
            chunk_count: 0,
            decoded_len: 0,
            checksum,
            trailers: Vec::new(),
        })
    }

    /// Decoded bytes so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded_len
    }

    /// The trailers (lower-case names, trimmed values, without the trailer
    /// signature), once [`ChunkedEvent::End`] was returned.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Whether the whole body was decoded and verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Called at the end of the raw body: S3's `IncompleteBody` unless the
    /// final chunk (and trailers) arrived.
    pub fn finish(&self) -> Result<(), SigV4Error> {
        match &self.state {
            State::Done => Ok(()),
            State::Failed(e) => Err(e.clone()),
            _ => Err(SigV4Error::IncompleteBody),
        }
    }

    /// Consumes bytes from `input` up to the next event; returns how many
    /// were consumed and the event. An error is final: every later call
    /// returns it again.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, ChunkedEvent<'a>), SigV4Error> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        match self.step(input) {
            Ok(r) => Ok(r),
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Feeds all of `input`, appending decoded bytes to `out`; returns
    /// whether the body ended. For callers that buffer anyway (tests,
    /// small bodies).
    pub fn decode_into(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<bool, SigV4Error> {
        loop {
            let (used, event) = self.decode(input)?;
            input = &input[used..];
            match event {
                ChunkedEvent::Data(d) => out.extend_from_slice(d),
                ChunkedEvent::End if input.is_empty() => return Ok(true),
                // Bytes after the end are refused by the next call.
                ChunkedEvent::ChunkEnd { .. } | ChunkedEvent::End => {}
                ChunkedEvent::NeedInput => return Ok(false),
            }
        }
    }

    fn step<'a>(&mut self, input: &'a [u8]) -> Result<(usize, ChunkedEvent<'a>), SigV4Error> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Done => {
                    // End is reported once; afterwards there is nothing to
                    // wait for, so a caller's loop ends on NeedInput.
                    if rest.is_empty() {
                        return Ok((used, ChunkedEvent::NeedInput));
                    }
                    return Err(SigV4Error::MalformedChunkedBody(
                        "data after the final chunk",
                    ));
                }
                State::Failed(ref e) => return Err(e.clone()),
                _ if rest.is_empty() => return Ok((used, ChunkedEvent::NeedInput)),
                State::SizeLine => {
                    let limit = self.options.max_line_len;
                    let window = bounded(rest, limit, self.line.len());
                    let (n, complete) = take_line(&mut self.line, window);
                    used += n;
                    if self.line.len() > limit {
                        return Err(SigV4Error::LimitExceeded(format!(
                            "A chunk-size line is longer than {limit} bytes."
                        )));
                    }
                    if complete {
                        self.start_chunk()?;
                        if self.is_done() {
                            return Ok((used, ChunkedEvent::End));
                        }
                    }
                }
                State::Data => {
                    let n = usize::try_from(self.chunk_remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    let data = &rest[..n];
                    if self.signing.is_some() {
                        self.chunk_hash.update(data);
                    }
                    if let Some(c) = &mut self.checksum {
                        c.update(data);
                    }
                    self.chunk_remaining -= n as u64;
                    self.decoded_len += n as u64;
                    if self.chunk_remaining == 0 {
                        self.state = State::DataCrlf { seen: 0 };
                    }
                    return Ok((used + n, ChunkedEvent::Data(data)));
                }
                State::DataCrlf { seen } => {
                    let (n, seen) = expect_crlf(seen, rest, "chunk data must end with CRLF")?;
                    used += n;
                    if seen < 2 {
                        self.state = State::DataCrlf { seen };
                        continue;
                    }
                    self.verify_chunk_signature()?;
                    self.previous_chunk_len = Some(self.chunk_len);
                    self.state = State::SizeLine;
                    return Ok((
                        used,
                        ChunkedEvent::ChunkEnd {
                            len: self.chunk_len,
                        },
                    ));
                }
                State::Trailers => {
                    let limit = self.options.max_trailer_len;
                    let window = bounded(rest, limit, self.line.len());
                    let (n, complete) = take_trailer_section(&mut self.line, window);
                    used += n;
                    if self.line.len() > limit {
                        return Err(SigV4Error::LimitExceeded(format!(
                            "The trailer section is longer than {limit} bytes."
                        )));
                    }
                    if complete {
                        self.finish_trailers()?;
                        return Ok((used, ChunkedEvent::End));
                    }
                }
                State::FinalCrlf { seen } => {
                    let (n, seen) = expect_crlf(seen, rest, "the final chunk must end with CRLF")?;
                    used += n;
                    if seen < 2 {
                        self.state = State::FinalCrlf { seen };
                        continue;
                    }
                    self.verify_checksum()?;
                    self.state = State::Done;
                    return Ok((used, ChunkedEvent::End));
                }
            }
        }
    }

    /// Parses a complete chunk-size line (in `self.line`, CRLF included).
    fn start_chunk(&mut self) -> Result<(), SigV4Error> {
        let line = std::mem::take(&mut self.line);
        let Some(body) = line.strip_suffix(b"\r\n") else {
            return Err(SigV4Error::MalformedChunkedBody(
                "a chunk-size line must end with CRLF",
            ));
        };
        let (size_text, extension) = match body.iter().position(|&b| b == b';') {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        if size_text.is_empty()
            || size_text.len() > 16
            || !size_text.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(SigV4Error::MalformedChunkedBody(
                "a chunk size must be 1 to 16 hex digits",
            ));
        }
        let size = std::str::from_utf8(size_text)
            .ok()
            .and_then(|t| u64::from_str_radix(t, 16).ok())
            .ok_or(SigV4Error::MalformedChunkedBody(
                "a chunk size must be 1 to 16 hex digits",
            ))?;
        self.chunk_signature = match (extension, self.signing.is_some()) {
            (None, false) => None,
            (Some(ext), true) => {
                let sig =
                    ext.strip_prefix(SIGNATURE_EXT)
                        .ok_or(SigV4Error::MalformedChunkedBody(
                            "expected ';chunk-signature='",
                        ))?;
                let sig: [u8; 64] = sig.try_into().map_err(|_| {
                    SigV4Error::MalformedChunkedBody("a chunk signature must be 64 hex digits")
                })?;
                Some(sig)
            }
            (None, true) => {
                return Err(SigV4Error::MalformedChunkedBody(
                    "a signed chunk needs ';chunk-signature='",
                ))
            }
            (Some(_), false) => {
                return Err(SigV4Error::MalformedChunkedBody(
                    "an unsigned chunk carries no extension",
                ))
            }
        };
        self.chunk_count += 1;
        if size > self.options.max_chunk_size {
            return Err(SigV4Error::LimitExceeded(format!(
                "A chunk of {size} bytes is larger than this server's limit of {} bytes.",
                self.options.max_chunk_size
            )));
        }
        if let Some(previous) = self.previous_chunk_len {
            if size != 0 && previous < self.options.min_chunk_size {
                return Err(SigV4Error::InvalidChunkSize {
                    min: self.options.min_chunk_size,
                    chunk: self.chunk_count,
                    bad_chunk_size: previous,
                });
            }
        }
        let total = self.decoded_len.saturating_add(size);
        if let Some(expected) = self.options.decoded_content_length {
            if total > expected || (size == 0 && total != expected) {
                return Err(SigV4Error::DecodedLengthMismatch {
                    expected,
                    received: total,
                });
            }
        }
        self.chunk_len = size;
        self.chunk_remaining = size;
        self.chunk_hash = Sha256::new();
        if size > 0 {
            self.state = State::Data;
            return Ok(());
        }
        // The final chunk: empty data, signed like any other.
        self.verify_chunk_signature()?;
        self.state = if self.has_trailer {
            State::Trailers
        } else {
            State::FinalCrlf { seen: 0 }
        };
        Ok(())
    }

    fn verify_chunk_signature(&mut self) -> Result<(), SigV4Error> {
        let Some(ctx) = &mut self.signing else {
            return Ok(());
        };
        let hash: [u8; 32] = std::mem::take(&mut self.chunk_hash).finalize().into();
        let expected = ctx.chunk_signature(&hash);
        let provided = self.chunk_signature.take().unwrap_or([0; 64]);
        if !signatures_equal(&expected, &provided) {
            return Err(SigV4Error::ChunkSignatureDoesNotMatch);
        }
        ctx.advance(expected);
        Ok(())
    }

    /// Parses the trailer section (in `self.line`, ending with the blank
    /// line), checks its signature and the checksum.
    fn finish_trailers(&mut self) -> Result<(), SigV4Error> {
        let section = std::mem::take(&mut self.line);
        let text = std::str::from_utf8(&section).map_err(|_| SigV4Error::MalformedTrailer)?;
        let mut trailers = Vec::new();
        let mut signature = None;
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').ok_or(SigV4Error::MalformedTrailer)?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_owned();
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
                return Err(SigV4Error::MalformedTrailer);
            }
            if name == TRAILER_SIGNATURE {
                if signature.replace(value).is_some() {
                    return Err(SigV4Error::MalformedTrailer);
                }
            } else {
                trailers.push((name, value));
            }
        }
        match (&mut self.signing, signature) {
            (Some(ctx), Some(provided)) => {
                let expected = ctx.trailer_signature(&canonical_trailers(&trailers));
                if !signatures_equal(&expected, provided.as_bytes()) {
                    return Err(SigV4Error::ChunkSignatureDoesNotMatch);
                }
                ctx.advance(expected);
            }
            (None, None) => {}
            // A signed trailer without its signature, or a signature in the
            // unsigned mode.
            _ => return Err(SigV4Error::MalformedTrailer),
        }
        // Exactly the declared trailer, no other.
        let declared = self
            .options
            .trailer_checksum
            .map(ChecksumAlgorithm::header_name);
        if trailers.len() != usize::from(declared.is_some())
            || trailers
                .iter()
                .any(|(name, _)| Some(name.as_str()) != declared)
        {
            return Err(SigV4Error::MalformedTrailer);
        }
        self.trailers = trailers;
        self.verify_checksum()?;
        self.state = State::Done;
        Ok(())
    }

    fn verify_checksum(&self) -> Result<(), SigV4Error> {
        let Some(computed) = &self.checksum else {
            return Ok(());
        };
        let expected = match (&self.options.header_checksum, self.options.trailer_checksum) {
            (Some(expected), _) => expected.clone(),
            (None, Some(algorithm)) => {
                let value = self
                    .trailers
                    .iter()
                    .find(|(n, _)| n == algorithm.header_name())
                    .map(|(_, v)| v.as_str())
                    .ok_or(SigV4Error::MalformedTrailer)?;
                ExpectedChecksum::parse(algorithm, value, true)?
            }
            (None, None) => return Ok(()),
        };
        computed.verify(&expected)
    }
}

/// At most one byte more than a buffer of `held` bytes may still take
/// under `limit`, so an over-long line is refused without buffering it.
fn bounded(input: &[u8], limit: usize, held: usize) -> &[u8] {
    let room = limit.saturating_sub(held).saturating_add(1);
    &input[..input.len().min(room)]
}

/// Appends `input` to `line` up to and including the first `\n`; returns
/// the bytes taken and whether a line ended.
fn take_line(line: &mut Vec<u8>, input: &[u8]) -> (usize, bool) {
    if let Some(i) = input.iter().position(|&b| b == b'\n') {
        line.extend_from_slice(&input[..=i]);
        (i + 1, true)
    } else {
        line.extend_from_slice(input);
        (input.len(), false)
    }
}

/// Like [`take_line`], up to the blank line that ends a trailer section
/// (which may be the section's first line, when there are no trailers).
fn take_trailer_section(section: &mut Vec<u8>, input: &[u8]) -> (usize, bool) {
    let mut used = 0;
    while used < input.len() {
        let (n, complete) = take_line(section, &input[used..]);
        used += n;
        if complete && (section.as_slice() == b"\r\n" || section.ends_with(b"\r\n\r\n")) {
            return (used, true);
        }
    }
    (used, false)
}

/// Matches the rest of a CRLF of which `seen` bytes were matched.
fn expect_crlf(
    mut seen: usize,
    input: &[u8],
    what: &'static str,
) -> Result<(usize, usize), SigV4Error> {
    let mut used = 0;
    while seen < 2 && used < input.len() {
        if input[used] != b"\r\n"[seen] {
            return Err(SigV4Error::MalformedChunkedBody(what));
        }
        seen += 1;
        used += 1;
    }
    Ok((used, seen))
}

/// Trailers as signed: `name:value\n` each, sorted by name.
fn canonical_trailers(trailers: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = trailers.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(64);
    for (name, value) in sorted {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.trim().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Frames and signs aws-chunked data with a fresh signature chain (the
/// gateway's key and the seed signature of the request it sends), for the
/// same chunk boundaries the client used: `Content-Length` does not change.
pub struct AwsChunkedEncoder {
    signing: ChunkSigningContext,
    with_trailer: bool,
}

impl fmt::Debug for AwsChunkedEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsChunkedEncoder")
            .field("with_trailer", &self.with_trailer)
            .finish_non_exhaustive()
    }
}

impl AwsChunkedEncoder {
    /// `with_trailer`: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`, else
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    pub fn new(signing: ChunkSigningContext, with_trailer: bool) -> Self {
        Self {
            signing,
            with_trailer,
        }
    }

    /// The line that goes before `data` (`<hex len>;chunk-signature=…\r\n`),
    /// advancing the chain; the caller writes the data and `\r\n` after it.
    /// `data` must not be empty (an empty chunk ends the body: see
    /// [`AwsChunkedEncoder::finish`]).
    pub fn chunk_header(&mut self, data: &[u8]) -> String {
        let hash: [u8; 32] = Sha256::digest(data).into();
        let signature = self.signing.chunk_signature(&hash);
        let line = format!("{:x};chunk-signature={signature}\r\n", data.len());
        self.signing.advance(signature);
        line
    }

    /// Appends one framed chunk to `out`. Empty data writes nothing.
    pub fn encode_chunk(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        out.extend_from_slice(self.chunk_header(data).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }

    /// Appends the final empty chunk and, in trailer mode, `trailers` with
    /// their signature, then the closing CRLF. Trailers without trailer
    /// mode are refused.
    pub fn finish(
        &mut self,
        trailers: &[(String, String)],
        out: &mut Vec<u8>,
    ) -> Result<(), SigV4Error> {
        if !self.with_trailer && !trailers.is_empty() {
            return Err(SigV4Error::InvalidRequest(
                "Trailers need STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.".to_owned(),
            ));
        }
        let empty: [u8; 32] = Sha256::digest(b"").into();
        let signature = self.signing.chunk_signature(&empty);
        out.extend_from_slice(format!("0;chunk-signature={signature}\r\n").as_bytes());
        self.signing.advance(signature);
        if self.with_trailer {
            let trailers: Vec<(String, String)> = trailers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            for (name, value) in &trailers {
                out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            }
            let signature = self
                .signing
                .trailer_signature(&canonical_trailers(&trailers));
            out.extend_from_slice(format!("{TRAILER_SIGNATURE}:{signature}\r\n").as_bytes());
            self.signing.advance(signature);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}
