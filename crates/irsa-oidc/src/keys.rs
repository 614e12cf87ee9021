//! Public keys: SubjectPublicKeyInfo parsing and canonical re-encoding, `kid`
//! derivation, JWK parsing/serialisation and signature verification on
//! aws-lc-rs. Pure.

use std::fmt;
use std::sync::OnceLock;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, VerificationAlgorithm};
use serde_json::Value;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::jwt::{b64url, b64url_decode};

/// JWS algorithms the verifier accepts. `none` and HMAC are never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    /// ECDSA P-521 with SHA-512 (kube-apiserver signs with it for P-521 keys).
    ES512,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 10] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::EdDSA,
    ];

    /// Parses a header `alg`; the error says why it is refused.
    pub fn parse(name: &str) -> Result<Alg, String> {
        Ok(match name {
            "RS256" => Alg::RS256,
            "RS384" => Alg::RS384,
            "RS512" => Alg::RS512,
            "PS256" => Alg::PS256,
            "PS384" => Alg::PS384,
            "PS512" => Alg::PS512,
            "ES256" => Alg::ES256,
            "ES384" => Alg::ES384,
            "ES512" => Alg::ES512,
            "EdDSA" => Alg::EdDSA,
            n if n.eq_ignore_ascii_case("none") => {
                return Err("Unsigned tokens (alg none) are not accepted".to_owned())
            }
            n if n.starts_with("HS") => {
                return Err(format!(
                    "Symmetric signing algorithm {n} is not accepted; use an asymmetric algorithm"
                ))
            }
            n => return Err(format!("Unsupported signing algorithm {n}")),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Whether a key of this type may verify this algorithm.
    pub fn fits(self, key: &KeyMaterial) -> bool {
        matches!(
            (self, key),
            (
                Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512,
                KeyMaterial::Rsa { .. }
            ) | (
                Alg::ES256,
                KeyMaterial::Ec {
                    curve: Curve::P256,
                    ..
                }
            ) | (
                Alg::ES384,
                KeyMaterial::Ec {
                    curve: Curve::P384,
                    ..
                }
            ) | (
                Alg::ES512,
                KeyMaterial::Ec {
                    curve: Curve::P521,
                    ..
                }
            ) | (Alg::EdDSA, KeyMaterial::Ed25519 { .. })
        )
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Alg::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            Alg::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
            Alg::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
            Alg::ES512 => &sig::ECDSA_P521_SHA512_FIXED,
            Alg::EdDSA => &sig::ED25519,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }
    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
    fn oid_der(self) -> &'static [u8] {
        match self {
            // 1.2.840.10045.3.1.7
            Curve::P256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            // 1.3.132.0.34
            Curve::P384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
            // 1.3.132.0.35
            Curve::P521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        }
    }
}

/// The mathematical content of a public key.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Unsigned big-endian modulus and exponent, no leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Affine coordinates, each exactly the field size.
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl KeyMaterial {
    /// "RSA-2048", "EC P-256", "Ed25519".
    pub fn describe(&self) -> String {
        match self {
            KeyMaterial::Rsa { n, .. } => format!("RSA-{}", n.len() * 8),
            KeyMaterial::Ec { curve, .. } => format!("EC {}", curve.jwk_name()),
            KeyMaterial::Ed25519 { .. } => "Ed25519".to_owned(),
        }
    }

    /// JWK `kty`.
    pub fn kty(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::Ec { .. } => "EC",
            KeyMaterial::Ed25519 { .. } => "OKP",
        }
    }

    /// The algorithm a key of this type signs Kubernetes tokens with.
    pub fn default_alg(&self) -> Alg {
        match self {
            KeyMaterial::Rsa { .. } => Alg::RS256,
            KeyMaterial::Ec {
                curve: Curve::P256, ..
            } => Alg::ES256,
            KeyMaterial::Ec {
                curve: Curve::P384, ..
            } => Alg::ES384,
            KeyMaterial::Ec {
                curve: Curve::P521, ..
            } => Alg::ES512,
            KeyMaterial::Ed25519 { .. } => Alg::EdDSA,
        }
    }

    /// Canonical DER SubjectPublicKeyInfo, as Go's `x509.MarshalPKIXPublicKey`
    /// writes it (so `kid`s match kube-apiserver's).
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            KeyMaterial::Rsa { .. } => {
                // AlgorithmIdentifier { rsaEncryption, NULL }
                let alg = der_seq(&[
                    &[
                        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
                    ][..],
                    &[0x05, 0x00][..],
                ]);
                der_seq(&[&alg, &der_bit_string(&self.verification_bytes())])
            }
            KeyMaterial::Ec { curve, .. } => {
                let alg = der_seq(&[
                    // id-ecPublicKey 1.2.840.10045.2.1
                    &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01][..],
                    curve.oid_der(),
                ]);
                der_seq(&[&alg, &der_bit_string(&self.verification_bytes())])
            }
            KeyMaterial::Ed25519 { x } => {
                let alg = der_seq(&[&[0x06, 0x03, 0x2b, 0x65, 0x70][..]]);
                der_seq(&[&alg, &der_bit_string(x)])
            }
        }
    }

    /// The bytes aws-lc-rs verifies with: PKCS#1 RSAPublicKey, an
    /// uncompressed EC point, or the raw Ed25519 key.
    fn verification_bytes(&self) -> Vec<u8> {
        match self {
            KeyMaterial::Rsa { n, e } => der_seq(&[&der_uint(n), &der_uint(e)]),
            KeyMaterial::Ec { x, y, .. } => {
                let mut p = Vec::with_capacity(1 + x.len() + y.len());
                p.push(0x04);
                p.extend_from_slice(x);
                p.extend_from_slice(y);
                p
            }
            KeyMaterial::Ed25519 { x } => x.clone(),
        }
    }

    /// Kubernetes' key id: base64url-no-pad(SHA-256(DER SPKI)).
    pub fn kid(&self) -> String {
        b64url(digest::digest(&digest::SHA256, &self.spki_der()).as_ref())
    }

    /// Parses a DER SubjectPublicKeyInfo (RSA, EC P-256/P-384/P-521, Ed25519).
    pub fn from_spki_der(der: &[u8]) -> Result<KeyMaterial, String> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|_| "not a DER SubjectPublicKeyInfo".to_owned())?;
        if !rest.is_empty() {
            return Err("trailing data after SubjectPublicKeyInfo".to_owned());
        }
        Self::from_spki(&spki)
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyMaterial, String> {
        let oid = &spki.algorithm.algorithm;
        if *oid == OID_PKCS1_RSAENCRYPTION {
            match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => Ok(KeyMaterial::Rsa {
                    n: strip_zeros(rsa.modulus).to_vec(),
                    e: strip_zeros(rsa.exponent).to_vec(),
                }),
                _ => Err("malformed RSA public key".to_owned()),
            }
        } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve_oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .ok_or_else(|| "EC public key without a named curve".to_owned())?;
            let curve = if curve_oid == OID_EC_P256 {
                Curve::P256
            } else if curve_oid == OID_NIST_EC_P384 {
                Curve::P384
            } else if curve_oid == OID_NIST_EC_P521 {
                Curve::P521
            } else {
                return Err(format!("unsupported EC curve {curve_oid}"));
            };
            let point: &[u8] = &spki.subject_public_key.data;
            let len = curve.coordinate_len();
            if point.len() != 1 + 2 * len || point[0] != 0x04 {
                return Err("EC public key is not an uncompressed point".to_owned());
            }
            Ok(KeyMaterial::Ec {
                curve,
                x: point[1..=len].to_vec(),
                y: point[1 + len..].to_vec(),
            })
        } else if *oid == OID_SIG_ED25519 {
            let x: &[u8] = &spki.subject_public_key.data;
            if x.len() != 32 {
                return Err("Ed25519 public key must be 32 bytes".to_owned());
            }
            Ok(KeyMaterial::Ed25519 { x: x.to_vec() })
        } else {
            Err(format!("unsupported public key algorithm {oid}"))
        }
    }

    /// Parses a DER PKCS#1 RSAPublicKey (`RSA PUBLIC KEY` PEM).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<KeyMaterial, String> {
        let alg = der_seq(&[
            &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            ][..],
            &[0x05, 0x00][..],
        ]);
        Self::from_spki_der(&der_seq(&[&alg, &der_bit_string(der)]))
    }

    /// JWK members for this key (`kty` and the key parameters).
    fn jwk_members(&self, obj: &mut serde_json::Map<String, Value>) {
        obj.insert("kty".into(), self.kty().into());
        match self {
            KeyMaterial::Rsa { n, e } => {
                obj.insert("n".into(), b64url(n).into());
                obj.insert("e".into(), b64url(e).into());
            }
            KeyMaterial::Ec { curve, x, y } => {
                obj.insert("crv".into(), curve.jwk_name().into());
                obj.insert("x".into(), b64url(x).into());
                obj.insert("y".into(), b64url(y).into());
            }
            KeyMaterial::Ed25519 { x } => {
                obj.insert("crv".into(), "Ed25519".into());
                obj.insert("x".into(), b64url(x).into());
            }
        }
    }

    /// A JWK as an issuer publishes it: `use: sig`, `kid`, `alg`.
    pub fn to_jwk(&self, kid: &str, alg: Alg) -> Value {
        let mut obj = serde_json::Map::new();
        obj.insert("use".into(), "sig".into());
        self.jwk_members(&mut obj);
        obj.insert("kid".into(), kid.into());
        obj.insert("alg".into(), alg.as_str().into());
        Value::Object(obj)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b
        .iter()
        .position(|&x| x != 0)
        .unwrap_or(b.len().saturating_sub(1));
    &b[first..]
}

// --- minimal DER writer (only what SPKI/PKCS#1 need) -----------------------

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(0));
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

fn der_seq(items: &[&[u8]]) -> Vec<u8> {
    der_tlv(0x30, &items.concat())
}

fn der_bit_string(bits: &[u8]) -> Vec<u8> {
    let mut content = vec![0u8];
    content.extend_from_slice(bits);
    der_tlv(0x03, &content)
}

fn der_uint(be: &[u8]) -> Vec<u8> {
    let be = strip_zeros(be);
    let mut content = Vec::with_capacity(be.len() + 1);
    if be.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(be);
    der_tlv(0x02, &content)
}

// --- JWKS -------------------------------------------------------------------

/// A key from a JWKS, ready to verify signatures.
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Alg>,
    material: KeyMaterial,
    /// aws-lc-rs parsed keys, per algorithm, built on first use.
    parsed: [OnceLock<Option<ParsedPublicKey>>; Alg::ALL.len()],
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("key", &self.material)
            .finish_non_exhaustive()
    }
}

impl Jwk {
    pub fn new(kid: Option<String>, alg: Option<Alg>, material: KeyMaterial) -> Self {
        Self {
            kid,
            alg,
            material,
            parsed: Default::default(),
        }
    }
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    pub fn alg(&self) -> Option<Alg> {
        self.alg
    }
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// Whether this key may verify `alg` (key type and the JWK's own `alg`).
    pub fn accepts(&self, alg: Alg) -> bool {
        alg.fits(&self.material) && self.alg.is_none_or(|a| a == alg)
    }

    /// Verifies a JWS signature. `false` for a wrong signature, an unusable
    /// key, or an algorithm the key does not accept.
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        if !self.accepts(alg) {
            return false;
        }
        let parsed = self.parsed[alg.index()].get_or_init(|| {
            ParsedPublicKey::new(alg.verification(), self.material.verification_bytes()).ok()
        });
        parsed
            .as_ref()
            .is_some_and(|k| k.verify_sig(message, signature).is_ok())
    }
}

/// Result of parsing a JWKS document.
#[derive(Debug, Default)]
pub struct ParsedJwks {
    pub keys: Vec<Jwk>,
    /// Keys left out (wrong `use`, unknown `kty`, malformed), with reasons.
    pub skipped: Vec<String>,
}

/// Parses a JWKS. Keys with `use` other than `sig`, unknown key types and
/// malformed keys are skipped (not fatal); at most `max_keys` keys are kept.
pub fn parse_jwks(doc: &Value, max_keys: usize) -> Result<ParsedJwks, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "JWKS has no \"keys\" array".to_owned())?;
    let mut out = ParsedJwks::default();
    for (i, key) in keys.iter().enumerate() {
        if out.keys.len() >= max_keys {
            out.skipped.push(format!(
                "{} keys beyond the limit of {max_keys}",
                keys.len() - i
            ));
            break;
        }
        match parse_jwk(key) {
            Ok(Some(jwk)) => out.keys.push(jwk),
            Ok(None) => {}
            Err(reason) => out.skipped.push(format!("key {i}: {reason}")),
        }
    }
    Ok(out)
}

/// One JWK; `Ok(None)` for keys that are legitimately not for us.
fn parse_jwk(key: &Value) -> Result<Option<Jwk>, String> {
    let field = |name: &str| key.get(name).and_then(Value::as_str);
    if let Some(u) = field("use") {
        if u != "sig" {
            return Ok(None);
        }
    }
    let b64 = |name: &str| -> Result<Vec<u8>, String> {
        field(name)
            .and_then(b64url_decode)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("missing or invalid \"{name}\""))
    };
    let material = match field("kty") {
        Some("RSA") => KeyMaterial::Rsa {
            n: strip_zeros(&b64("n")?).to_vec(),
            e: strip_zeros(&b64("e")?).to_vec(),
        },
        Some("EC") => {
            let curve = match field("crv") {
                Some("P-256") => Curve::P256,
                Some("P-384") => Curve::P384,
                Some("P-521") => Curve::P521,
                other => return Err(format!("unsupported EC curve {other:?}")),
            };
            let (x, y) = (b64("x")?, b64("y")?);
            if x.len() != curve.coordinate_len() || y.len() != curve.coordinate_len() {
                return Err("EC coordinates have the wrong length".to_owned());
            }
            KeyMaterial::Ec { curve, x, y }
        }
        Some("OKP") => match field("crv") {
            Some("Ed25519") => {
                let x = b64("x")?;
                if x.len() != 32 {
                    return Err("Ed25519 key must be 32 bytes".to_owned());
                }
                KeyMaterial::Ed25519 { x }
            }
            _ => return Ok(None),
        },
        // Unknown key types (oct, future types) do not spoil the set.
        _ => return Ok(None),
    };
    let alg = match field("alg") {
        None => None,
        Some(a) => match Alg::parse(a) {
            Ok(alg) if alg.fits(&material) => Some(alg),
            Ok(alg) => {
                return Err(format!(
                    "alg {alg} does not fit a {} key",
                    material.describe()
                ))
            }
            // A key marked for an algorithm we never accept is useless to us.
            Err(_) => return Ok(None),
        },
    };
    Ok(Some(Jwk::new(
        field("kid").map(str::to_owned),
        alg,
        material,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_skips_enc_and_unknown_and_keeps_good_keys() {
        let x = b64url(&[1u8; 32]);
        let doc = serde_json::json!({"keys": [
            {"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB","kid":"enc"},
            {"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
            {"kty":"OKP","crv":"X25519","x": x, "kid":"x"},
            {"kty":"EC","crv":"P-256","x": b64url(&[2u8;32]), "y": b64url(&[3u8;32]), "kid":"ec"},
            {"kty":"EC","crv":"P-256","x": "AA", "y": "AA", "kid":"short"},
            {"kty":"OKP","crv":"Ed25519","x": x, "kid":"ed", "alg": "EdDSA"},
            {"kty":"RSA","n":"AQAB","e":"AQAB","kid":"hs","alg":"HS256"},
        ]});
        let parsed = parse_jwks(&doc, 100).unwrap();
        let kids: Vec<_> = parsed.keys.iter().filter_map(Jwk::kid).collect();
        assert_eq!(kids, ["ec", "ed"]);
        assert_eq!(parsed.skipped.len(), 1, "{:?}", parsed.skipped);
        assert!(parse_jwks(&serde_json::json!({"nokeys": []}), 100).is_err());
    }

    #[test]
    fn jwks_key_count_is_capped() {
        let key = serde_json::json!({"kty":"OKP","crv":"Ed25519","x": b64url(&[1u8; 32])});
        let doc = serde_json::json!({"keys": vec![key; 10_000]});
        let parsed = parse_jwks(&doc, 100).unwrap();
        assert_eq!(parsed.keys.len(), 100);
    }

    #[test]
    fn alg_must_fit_key_type() {
        let ec = KeyMaterial::Ec {
            curve: Curve::P256,
            x: vec![1; 32],
            y: vec![1; 32],
        };
        assert!(Alg::ES256.fits(&ec));
        assert!(!Alg::ES384.fits(&ec));
        assert!(!Alg::RS256.fits(&ec));
        assert!(Alg::parse("none").is_err());
        assert!(Alg::parse("HS256").unwrap_err().contains("Symmetric"));
    }

    #[test]
    fn der_integers_are_positive_and_minimal() {
        assert_eq!(der_uint(&[0, 0, 1]), vec![0x02, 0x01, 0x01]);
        assert_eq!(der_uint(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        let mut long = Vec::new();
        der_len(300, &mut long);
        assert_eq!(long, vec![0x82, 0x01, 0x2c]);
    }
}
