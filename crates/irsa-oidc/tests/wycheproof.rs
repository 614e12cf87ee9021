//! Token conformance: Wycheproof signature vectors through irsa-oidc's JWS
//! verification seam.
//!
//! The verifier checks a token by parsing the issuer's JWKS with
//! [`parse_jwks`] and calling [`Jwk::verify`]`(alg, signing_input,
//! signature)` on the candidate keys (`OidcVerifier::check_signature`).
//! Wycheproof's messages are arbitrary bytes rather than
//! `base64url(header).base64url(claims)`, so the vectors enter at exactly
//! that seam: each test group's public key is written as the JWK an issuer
//! would publish (parsed by `parse_jwks`, cross-checked against the group's
//! DER SubjectPublicKeyInfo through `KeyMaterial::from_spki_der`), and each
//! test's message and signature go to `Jwk::verify` with the JWS algorithm
//! the file's parameters correspond to (RFC 7518 §3).
//!
//! Result handling:
//! - `invalid` vectors must all be rejected (the test fails otherwise);
//! - `valid` vectors must all be accepted (a verifier that rejects
//!   everything would otherwise pass);
//! - `acceptable` vectors (legal but questionable encodings) are counted
//!   and printed, not asserted: JWS does not decide them.
//!
//! Beyond Wycheproof's own verdicts, JWS is stricter than the primitives:
//! ES* signatures are raw `r||s` (never ASN.1 DER), each alg fixes its hash,
//! PS* fixes MGF1 with the same hash and a salt as long as the hash. Files
//! whose parameters differ from the alg's are run under that alg and every
//! vector, Wycheproof-valid or not, must be rejected.
//!
//! Counts are printed; run with `--nocapture` to see them.

use std::fmt;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use irsa_oidc::jwt::b64url;
use irsa_oidc::keys::{parse_jwks, Jwk, KeyMaterial};
use irsa_oidc::Alg;
use serde_json::{json, Value};
use wycheproof::TestResult;

/// What happened to the vectors of one file under one alg.
#[derive(Default)]
struct Tally {
    label: String,
    valid_accepted: usize,
    valid_rejected: Vec<usize>,
    invalid_rejected: usize,
    /// tcId and flags of each invalid vector that verified.
    invalid_accepted: Vec<(usize, String)>,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
}

impl Tally {
    fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            ..Self::default()
        }
    }

    fn record(
        &mut self,
        tc_id: usize,
        flags: &impl fmt::Debug,
        expected: TestResult,
        accepted: bool,
    ) {
        match (expected, accepted) {
            (TestResult::Valid, true) => self.valid_accepted += 1,
            (TestResult::Valid, false) => self.valid_rejected.push(tc_id),
            (TestResult::Invalid, false) => self.invalid_rejected += 1,
            (TestResult::Invalid, true) => {
                self.invalid_accepted.push((tc_id, format!("{flags:?}")));
            }
            (TestResult::Acceptable, true) => self.acceptable_accepted += 1,
            (TestResult::Acceptable, false) => self.acceptable_rejected += 1,
        }
    }

    fn total(&self) -> usize {
        self.valid_accepted
            + self.valid_rejected.len()
            + self.invalid_rejected
            + self.invalid_accepted.len()
            + self.acceptable_accepted
            + self.acceptable_rejected
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<52} {:>5} vectors: valid accepted {:>4}, valid rejected {:>3}, invalid rejected {:>4}, invalid ACCEPTED {:>2}, acceptable accepted/rejected {}/{}",
            self.label,
            self.total(),
            self.valid_accepted,
            self.valid_rejected.len(),
            self.invalid_rejected,
            self.invalid_accepted.len(),
            self.acceptable_accepted,
            self.acceptable_rejected,
        )
    }
}

/// Wycheproof's verdicts must hold: no invalid vector accepted, no valid
/// vector rejected.
fn assert_conformant(tallies: &[Tally]) {
    for t in tallies {
        println!("{t}");
    }
    for t in tallies {
        assert!(t.total() > 0, "{}: no vectors ran", t.label);
        assert!(
            t.invalid_accepted.is_empty(),
            "{}: invalid vectors accepted, tcIds {:?}",
            t.label,
            t.invalid_accepted
        );
        assert!(
            t.valid_rejected.is_empty(),
            "{}: valid vectors rejected, tcIds {:?}",
            t.label,
            t.valid_rejected
        );
    }
}

/// JWS-strict sets: the file's parameters are not the alg's, so no valid
/// vector may verify. Some of the file's *invalid* vectors are signatures
/// made on purpose with other parameters ("hashed with SHA-256 instead of
/// SHA-224", "PKCS #1 v1.5 signature", "s_len changed to 32"); when those
/// are exactly the alg's parameters they rightly verify. They carry the
/// flags below; any other invalid vector verifying fails the test.
fn assert_all_rejected(tallies: &[Tally]) {
    const OTHER_PARAMETERS: [&str; 3] = ["WrongHash", "WrongPrimitive", "ModifiedSignature"];
    for t in tallies {
        println!(
            "{t}  [JWS-strict; invalid vectors that verify, made with this alg's parameters: {:?}]",
            t.invalid_accepted
        );
    }
    for t in tallies {
        assert!(t.total() > 0, "{}: no vectors ran", t.label);
        assert_eq!(
            t.valid_accepted + t.acceptable_accepted,
            0,
            "{}: a signature with other parameters verified under the JWS alg",
            t.label
        );
        for (tc_id, flags) in &t.invalid_accepted {
            assert!(
                OTHER_PARAMETERS.iter().any(|f| flags.contains(f)),
                "{}: invalid tcId {tc_id} {flags} verified",
                t.label
            );
        }
    }
}

/// The key as an issuer's JWKS would carry it, parsed by the verifier's
/// own JWKS parser. `None` when the parser skips or refuses it.
#[allow(clippy::needless_pass_by_value)] // built inline by every caller
fn jwk_from(members: Value) -> Option<Jwk> {
    let doc = json!({ "keys": [members] });
    let parsed = parse_jwks(&doc, 1).expect("a keys array is a JWKS");
    parsed.keys.into_iter().next()
}

/// Big-endian integer without leading zeros (JWK `n`/`e`; RFC 7518 §6.3.1).
fn unsigned(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// An EC coordinate at exactly the field size (RFC 7518 §6.2.1.2);
/// Wycheproof writes them as signed integers (a leading 00, or shorter).
fn coordinate(bytes: &[u8], len: usize) -> Vec<u8> {
    let digits = unsigned(bytes);
    let mut out = vec![0; len.saturating_sub(digits.len())];
    out.extend_from_slice(digits);
    out
}

fn rsa_jwk(n: &[u8], e: &[u8], alg: Alg) -> Jwk {
    jwk_from(json!({
        "kty": "RSA", "use": "sig", "kid": "wycheproof", "alg": alg.as_str(),
        "n": b64url(unsigned(n)), "e": b64url(unsigned(e)),
    }))
    .expect("RSA test key parses as a JWK")
}

fn assert_same_key(jwk: &Jwk, spki_der: &[u8]) {
    let from_der = KeyMaterial::from_spki_der(spki_der).expect("test key DER parses");
    assert_eq!(
        &from_der,
        jwk.material(),
        "JWK and SPKI give different keys"
    );
}

// ---------------------------------------------------------------------------
// RSA PKCS#1 v1.5 (RS256/384/512)

fn rsa_pkcs1(name: wycheproof::rsa_pkcs1_verify::TestName, alg: Alg) -> Tally {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).expect("vectors load");
    let mut tally = Tally::new(format!("{name:?} as {alg}"));
    for group in &set.test_groups {
        let jwk = rsa_jwk(&group.key.n, &group.key.e, alg);
        assert_same_key(&jwk, &group.der);
        for test in &group.tests {
            tally.record(
                test.tc_id,
                &test.flags,
                test.result,
                jwk.verify(alg, &test.msg, &test.sig),
            );
        }
    }
    tally
}

#[test]
fn rsa_pkcs1_v1_5_vectors() {
    use wycheproof::rsa_pkcs1_verify::TestName as N;
    let tallies: Vec<Tally> = [
        (N::Rsa2048Sha256, Alg::RS256),
        (N::Rsa3072Sha256, Alg::RS256),
        (N::Rsa4096Sha256, Alg::RS256),
        (N::Rsa8192Sha256, Alg::RS256),
        (N::Rsa2048Sha384, Alg::RS384),
        (N::Rsa3072Sha384, Alg::RS384),
        (N::Rsa4096Sha384, Alg::RS384),
        (N::Rsa8192Sha384, Alg::RS384),
        (N::Rsa2048Sha512, Alg::RS512),
        (N::Rsa3072Sha512, Alg::RS512),
        (N::Rsa4096Sha512, Alg::RS512),
        (N::Rsa8192Sha512, Alg::RS512),
    ]
    .into_iter()
    .map(|(name, alg)| rsa_pkcs1(name, alg))
    .collect();
    assert_conformant(&tallies);
}

#[test]
fn rsa_pkcs1_v1_5_under_the_wrong_jws_alg_is_rejected() {
    use wycheproof::rsa_pkcs1_verify::TestName as N;
    let tallies: Vec<Tally> = [
        // Other hashes than the alg's.
        (N::Rsa2048Sha224, Alg::RS256),
        (N::Rsa2048Sha512_256, Alg::RS256),
        (N::Rsa2048Sha3_256, Alg::RS256),
        (N::Rsa2048Sha256, Alg::RS384),
        (N::Rsa2048Sha384, Alg::RS512),
        (N::Rsa2048Sha512, Alg::RS256),
        // PKCS#1 v1.5 signatures presented as PSS.
        (N::Rsa2048Sha256, Alg::PS256),
        (N::Rsa4096Sha512, Alg::PS512),
    ]
    .into_iter()
    .map(|(name, alg)| rsa_pkcs1(name, alg))
    .collect();
    assert_all_rejected(&tallies);
}

// ---------------------------------------------------------------------------
// RSASSA-PSS (PS256/384/512: MGF1 with the same hash, salt = hash length)

fn rsa_pss(name: wycheproof::rsa_pss_verify::TestName, alg: Alg) -> Tally {
    let set = wycheproof::rsa_pss_verify::TestSet::load(name).expect("vectors load");
    let mut tally = Tally::new(format!("{name:?} as {alg}"));
    for group in &set.test_groups {
        let jwk = rsa_jwk(&group.key.n, &group.key.e, alg);
        assert_same_key(&jwk, &group.der);
        for test in &group.tests {
            tally.record(
                test.tc_id,
                &test.flags,
                test.result,
                jwk.verify(alg, &test.msg, &test.sig),
            );
        }
    }
    tally
}

#[test]
fn rsa_pss_vectors() {
    use wycheproof::rsa_pss_verify::TestName as N;
    let tallies: Vec<Tally> = [
        (N::RsaPss2048Sha256Mgf1SaltLen32, Alg::PS256),
        (N::RsaPss3072Sha256Mgf1SaltLen32, Alg::PS256),
        (N::RsaPss4096Sha256Mgf1SaltLen32, Alg::PS256),
        (N::RsaPss2048Sha384Mgf1SaltLen48, Alg::PS384),
        (N::RsaPss4096Sha384Mgf1SaltLen48, Alg::PS384),
        (N::RsaPss4096Sha512Mgf1SaltLen64, Alg::PS512),
    ]
    .into_iter()
    .map(|(name, alg)| rsa_pss(name, alg))
    .collect();
    assert_conformant(&tallies);
}

#[test]
fn rsa_pss_with_other_parameters_is_rejected() {
    use wycheproof::rsa_pss_verify::TestName as N;
    let tallies: Vec<Tally> = [
        // Salt length 0 where PS256 needs 32.
        (N::RsaPss2048Sha256Mgf1SaltLen0, Alg::PS256),
        // MGF1 with SHA-1.
        (N::RsaPss2048Sha256Mgf1Sha1_20, Alg::PS256),
        // SHA-1, SHA-512/256 messages.
        (N::RsaPss2048Sha1Mgf1SaltLen20, Alg::PS256),
        (N::RsaPss2048Sha512_256Mgf1SaltLen32, Alg::PS256),
        // Salt length 32 where PS512 needs 64.
        (N::RsaPss4096Sha512Mgf1SaltLen32, Alg::PS512),
        // PSS signatures presented as PKCS#1 v1.5.
        (N::RsaPss2048Sha256Mgf1SaltLen32, Alg::RS256),
    ]
    .into_iter()
    .map(|(name, alg)| rsa_pss(name, alg))
    .collect();
    assert_all_rejected(&tallies);
}

// ---------------------------------------------------------------------------
// ECDSA (ES256/384/512: raw r||s, RFC 7518 §3.4)

fn ec_members(curve: &str, len: usize, x: &[u8], y: &[u8], alg: Alg) -> Value {
    json!({
        "kty": "EC", "use": "sig", "kid": "wycheproof", "alg": alg.as_str(), "crv": curve,
        "x": b64url(&coordinate(x, len)), "y": b64url(&coordinate(y, len)),
    })
}

fn curve_of(alg: Alg) -> (&'static str, usize) {
    match alg {
        Alg::ES256 => ("P-256", 32),
        Alg::ES384 => ("P-384", 48),
        Alg::ES512 => ("P-521", 66),
        other => panic!("{other} is not ECDSA"),
    }
}

fn ecdsa(name: wycheproof::ecdsa::TestName, alg: Alg) -> Tally {
    let set = wycheproof::ecdsa::TestSet::load(name).expect("vectors load");
    let (curve, len) = curve_of(alg);
    let mut tally = Tally::new(format!("{name:?} as {alg}"));
    for group in &set.test_groups {
        let key = &group.key;
        let jwk = jwk_from(ec_members(curve, len, &key.affine_x, &key.affine_y, alg))
            .expect("EC test key parses as a JWK");
        assert_same_key(&jwk, &group.der);
        for test in &group.tests {
            tally.record(
                test.tc_id,
                &test.flags,
                test.result,
                jwk.verify(alg, &test.msg, &test.sig),
            );
        }
    }
    tally
}

#[test]
fn ecdsa_p1363_vectors() {
    use wycheproof::ecdsa::TestName as N;
    let tallies: Vec<Tally> = [
        (N::EcdsaSecp256r1Sha256P1363, Alg::ES256),
        (N::EcdsaSecp384r1Sha384P1363, Alg::ES384),
        (N::EcdsaSecp521r1Sha512P1363, Alg::ES512),
    ]
    .into_iter()
    .map(|(name, alg)| ecdsa(name, alg))
    .collect();
    assert_conformant(&tallies);
}

#[test]
fn ecdsa_der_signatures_and_other_hashes_are_rejected() {
    use wycheproof::ecdsa::TestName as N;
    let tallies: Vec<Tally> = [
        // ASN.1 DER signatures: a JWS carries r||s only.
        (N::EcdsaSecp256r1Sha256, Alg::ES256),
        (N::EcdsaSecp384r1Sha384, Alg::ES384),
        (N::EcdsaSecp521r1Sha512, Alg::ES512),
        // Raw signatures over another hash than the alg's.
        (N::EcdsaSecp256r1Sha512P1363, Alg::ES256),
        (N::EcdsaSecp384r1Sha512P1363, Alg::ES384),
        (N::EcdsaSecp256r1Shake128P1363, Alg::ES256),
    ]
    .into_iter()
    .map(|(name, alg)| ecdsa(name, alg))
    .collect();
    assert_all_rejected(&tallies);
}

/// Public points that are not on the curve (Wycheproof's invalid-curve
/// attack points, from its ECDH vectors) must not give a usable key: the
/// JWKS parser may keep them (it checks lengths only), but aws-lc-rs
/// refuses them when the verifier builds the key, so nothing verifies.
#[test]
fn ec_points_off_the_curve_are_unusable() {
    use wycheproof::ecdh::TestName as N;
    let cases = [
        (
            N::EcdhSecp256r1Ecpoint,
            Alg::ES256,
            &sig::ECDSA_P256_SHA256_FIXED,
        ),
        (
            N::EcdhSecp384r1Ecpoint,
            Alg::ES384,
            &sig::ECDSA_P384_SHA384_FIXED,
        ),
        (
            N::EcdhSecp521r1Ecpoint,
            Alg::ES512,
            &sig::ECDSA_P521_SHA512_FIXED,
        ),
    ];
    for (name, alg, algorithm) in cases {
        let (curve, len) = curve_of(alg);
        let set = wycheproof::ecdh::TestSet::load(name).expect("vectors load");
        let (mut points, mut skipped_by_jwks, mut refused_by_library) = (0, 0, 0);
        for group in &set.test_groups {
            for test in &group.tests {
                let point: &[u8] = &test.public_key;
                // Invalid uncompressed points (the others are compressed or empty).
                if test.result != TestResult::Invalid || point.len() != 1 + 2 * len || point[0] != 4
                {
                    continue;
                }
                points += 1;
                let (x, y) = point[1..].split_at(len);
                if ParsedPublicKey::new(algorithm, point).is_err() {
                    refused_by_library += 1;
                }
                let Some(jwk) = jwk_from(ec_members(curve, len, x, y, alg)) else {
                    skipped_by_jwks += 1;
                    continue;
                };
                let forged = infinity_forgery(alg, b"header.claims");
                assert!(
                    !jwk.verify(alg, b"header.claims", &forged),
                    "{name:?} tcId {}: a key off the curve verified a signature",
                    test.tc_id
                );
            }
        }
        println!(
            "{name:?}: {points} invalid-curve points, {skipped_by_jwks} skipped by parse_jwks, {refused_by_library} refused by aws-lc-rs key parsing"
        );
        assert!(points > 0, "{name:?}: no invalid points found");
        assert_eq!(
            refused_by_library, points,
            "{name:?}: a point off the curve was accepted as a key"
        );
    }
}

// Curve orders and generator x-coordinates (SEC 2 / FIPS 186-4).
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P256_GX: &str = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
const P384_GX: &str = "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7";
const P521_N: &str = "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409";
const P521_GX: &str = "00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66";

/// `a - b` for big-endian numbers of equal length, `a >= b`.
fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = u8::try_from(d).expect("digit");
    }
    out
}

/// The signature that verifies under the point at infinity: with
/// r = x(G) and s = H(m) mod n, u1 = 1 and R = G + u2·O = G. A verifier
/// that lets an all-zero JWK stand for infinity (or skips the curve check)
/// accepts it for any message.
fn infinity_forgery(alg: Alg, message: &[u8]) -> Vec<u8> {
    let (n, gx, digest, len) = match alg {
        Alg::ES256 => (P256_N, P256_GX, &aws_lc_rs::digest::SHA256, 32),
        Alg::ES384 => (P384_N, P384_GX, &aws_lc_rs::digest::SHA384, 48),
        Alg::ES512 => (P521_N, P521_GX, &aws_lc_rs::digest::SHA512, 66),
        other => panic!("{other} is not ECDSA"),
    };
    let n = hex::decode(n).expect("hex");
    let hash = aws_lc_rs::digest::digest(digest, message);
    let mut e = vec![0; len - hash.as_ref().len()];
    e.extend_from_slice(hash.as_ref());
    let s = if e.as_slice() >= n.as_slice() {
        sub_be(&e, &n)
    } else {
        e
    };
    let mut signature = hex::decode(gx).expect("hex");
    signature.extend_from_slice(&s);
    signature
}

#[test]
fn all_zero_ec_keys_do_not_stand_for_the_point_at_infinity() {
    for alg in [Alg::ES256, Alg::ES384, Alg::ES512] {
        let (curve, len) = curve_of(alg);
        let zero = vec![0; len];
        let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhdHRhY2tlciJ9";
        let forged = infinity_forgery(alg, message);
        assert_eq!(forged.len(), 2 * len);
        if let Some(jwk) = jwk_from(ec_members(curve, len, &zero, &zero, alg)) {
            assert!(
                !jwk.verify(alg, message, &forged),
                "{alg}: (0,0) key verified a forgery"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// EdDSA (Ed25519, RFC 8037)

#[test]
fn ed25519_vectors() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519)
        .expect("vectors load");
    let mut tally = Tally::new("Ed25519 as EdDSA");
    for group in &set.test_groups {
        let jwk = jwk_from(json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": "wycheproof", "alg": "EdDSA",
            "x": b64url(&group.key.pk),
        }))
        .expect("Ed25519 test key parses as a JWK");
        assert_same_key(&jwk, &group.der);
        for test in &group.tests {
            tally.record(
                test.tc_id,
                &test.flags,
                test.result,
                jwk.verify(Alg::EdDSA, &test.msg, &test.sig),
            );
        }
    }
    assert_conformant(&[tally]);
}
