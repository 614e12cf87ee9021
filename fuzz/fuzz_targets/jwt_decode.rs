//! Compact JWS decoding (the `WebIdentityToken` of
//! AssumeRoleWithWebIdentity, `irsa token decode`), then what the verifier
//! and the renderer read from it.
//!
//! Input: the token text.
//! Invariants:
//! - no panic in decoding, `alg` parsing or rendering at any `now`;
//! - the signing input is exactly the first two segments of the token;
//! - decoding is canonical: the signature re-encodes to the token's third
//!   segment and the header/claims segments decode from it unchanged, so
//!   one signed token has one spelling.

#![no_main]

use irsa_oidc::jwt::{self, b64url, b64url_decode};
use irsa_oidc::Alg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(decoded) = jwt::decode(token) else {
        return;
    };
    let trimmed = token.trim();
    let segments: Vec<&str> = trimmed.split('.').collect();
    assert_eq!(segments.len(), 3);
    let signing_input = format!("{}.{}", segments[0], segments[1]);
    assert_eq!(decoded.signing_input(), signing_input.as_bytes());
    assert_eq!(
        b64url(decoded.signature()),
        segments[2],
        "signature encoding is not canonical"
    );
    for segment in &segments[..2] {
        let bytes = b64url_decode(segment).expect("decoded segment is base64url");
        assert_eq!(
            b64url(&bytes),
            *segment,
            "segment encoding is not canonical"
        );
    }
    if let Some(alg) = decoded.alg() {
        if let Ok(parsed) = Alg::parse(alg) {
            assert_eq!(parsed.as_str(), alg);
        }
    }
    // What the verifier reads in its typed pass is what the full maps say.
    let header_str = |name: &str| decoded.header().get(name).and_then(|v| v.as_str());
    assert_eq!(decoded.alg(), header_str("alg"));
    assert_eq!(decoded.kid(), header_str("kid"));
    assert_eq!(decoded.issuer(), decoded.claim_str("iss"));
    let _ = decoded.claim_str("sub");
    // `now` comes from the clock; the token controls every claim.
    for now in [0, 1_700_000_000, 4_102_444_800] {
        let _ = jwt::render_human(&decoded, now);
        let _ = jwt::render_json(&decoded, now);
    }
});
