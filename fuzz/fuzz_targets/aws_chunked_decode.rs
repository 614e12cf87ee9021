//! aws-chunked bodies (S3 streaming uploads): the decoder over arbitrary
//! bytes fed in arbitrary pieces, and encoder → decoder round trips.
//!
//! Input: byte 0 picks the mode and options, byte 1 the piece size, the
//! rest is the raw body (and, for the round trip, the payload).
//! Invariants:
//! - no panic; errors are 4xx with S3 codes;
//! - the outcome does not depend on how the body is cut into pieces (the
//!   same error code, or the same decoded bytes and trailers);
//! - what `AwsChunkedEncoder` writes (any chunk size, with a checksum
//!   trailer) decodes to exactly the payload with every signature verified.

#![no_main]

use std::time::{Duration, SystemTime};

use irsa_core::SecretString;
use irsa_sigv4::{
    AwsChunkedDecoder, AwsChunkedEncoder, ChecksumAlgorithm, Checksummer, ChunkSigningContext,
    ChunkedEvent, ChunkedMode, ChunkedOptions,
};
use libfuzzer_sys::fuzz_target;

const SEED_SIGNATURE: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

fn context() -> ChunkSigningContext {
    let secret = SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned());
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    ChunkSigningContext::new(&secret, time, "us-east-1", "s3", SEED_SIGNATURE)
        .expect("fixed seed signature is valid")
}

fn mode(selector: u8) -> ChunkedMode {
    match selector % 3 {
        0 => ChunkedMode::UnsignedWithTrailer,
        1 => ChunkedMode::Signed(context()),
        _ => ChunkedMode::SignedWithTrailer(context()),
    }
}

fn options(selector: u8, body_len: usize) -> ChunkedOptions {
    let trailer_checksum = match (selector / 3) % 4 {
        0 => None,
        n => Some(ChecksumAlgorithm::ALL[usize::from(n) % ChecksumAlgorithm::ALL.len()]),
    };
    ChunkedOptions {
        // Only meaningful with a trailer mode; the decoder refuses it otherwise.
        trailer_checksum,
        decoded_content_length: (selector & 0x40 != 0).then_some(body_len as u64 / 2),
        min_chunk_size: if selector & 0x80 != 0 { 0 } else { 8192 },
        max_line_len: 256,
        max_trailer_len: 1024,
        ..ChunkedOptions::default()
    }
}

/// Decoded bytes and trailers, or the S3 error code.
type Outcome = Result<(Vec<u8>, Vec<(String, String)>), &'static str>;

fn run(mut decoder: AwsChunkedDecoder, body: &[u8], piece: usize) -> Outcome {
    let mut out = Vec::new();
    for chunk in body.chunks(piece.max(1)) {
        let mut rest = chunk;
        loop {
            let (used, event) = decoder.decode(rest).map_err(|e| e.s3_code())?;
            assert!(used <= rest.len());
            rest = &rest[used..];
            match event {
                ChunkedEvent::Data(d) => out.extend_from_slice(d),
                ChunkedEvent::ChunkEnd { .. } | ChunkedEvent::End => {}
                ChunkedEvent::NeedInput => break,
            }
            if rest.is_empty() && !matches!(event, ChunkedEvent::Data(_)) {
                break;
            }
        }
    }
    decoder.finish().map_err(|e| {
        assert!((400..500).contains(&e.s3_status()));
        e.s3_code()
    })?;
    assert_eq!(decoder.decoded_len(), out.len() as u64);
    Ok((out, decoder.trailers().to_vec()))
}

fuzz_target!(|data: &[u8]| {
    let [selector, piece, body @ ..] = data else {
        return;
    };
    let opts = options(*selector, body.len());
    let make = || AwsChunkedDecoder::new(mode(*selector), opts.clone());
    let Ok(decoder) = make() else {
        return;
    };
    let whole = run(decoder, body, body.len());
    let pieces = run(make().expect("same options"), body, usize::from(*piece));
    assert_eq!(whole, pieces, "result depends on how the body is split");

    // Round trip: the payload framed and signed by the encoder.
    let with_trailer = selector & 1 != 0;
    let chunk = usize::from(*piece).max(1);
    let mut encoder = AwsChunkedEncoder::new(context(), with_trailer);
    let mut framed = Vec::new();
    for part in body.chunks(chunk) {
        encoder.encode_chunk(part, &mut framed);
    }
    let algorithm = ChecksumAlgorithm::ALL[usize::from(*selector) % ChecksumAlgorithm::ALL.len()];
    let mut trailers = Vec::new();
    if with_trailer {
        let mut checksum = Checksummer::new(algorithm);
        checksum.update(body);
        trailers.push((algorithm.header_name().to_owned(), checksum.to_base64()));
    }
    encoder
        .finish(&trailers, &mut framed)
        .expect("trailers only in trailer mode");
    let round_trip_options = ChunkedOptions {
        decoded_content_length: Some(body.len() as u64),
        trailer_checksum: with_trailer.then_some(algorithm),
        min_chunk_size: 0,
        ..ChunkedOptions::default()
    };
    let round_trip_mode = if with_trailer {
        ChunkedMode::SignedWithTrailer(context())
    } else {
        ChunkedMode::Signed(context())
    };
    let decoder =
        AwsChunkedDecoder::new(round_trip_mode, round_trip_options).expect("valid options");
    let (decoded, _) = run(decoder, &framed, chunk).expect("encoder output must decode");
    assert_eq!(decoded, body, "round trip changed the payload");
});
