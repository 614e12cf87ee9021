//! Issuer key documents: a JWKS (fetched from the OIDC issuer), DER
//! SubjectPublicKeyInfo and PEM public key files (`irsa issuer`, the
//! service-account key files).
//!
//! Input: the document bytes, tried as each of the three.
//! Invariants:
//! - no panic; at most `max_keys` keys are kept;
//! - every kept key round-trips: its JWK (`to_jwk`) parses back to the same
//!   key material, and its canonical SPKI DER (`spki_der`, which the `kid`
//!   hashes) parses back to the same material;
//! - a key only accepts algorithms that fit its type, and a garbage
//!   signature never verifies.

#![no_main]

use irsa_oidc::keys::{parse_jwks, KeyMaterial};
use irsa_oidc::{parse_public_keys_pem, Alg};
use libfuzzer_sys::fuzz_target;

const MAX_KEYS: usize = 8;

fn check_material(material: &KeyMaterial) {
    let der = material.spki_der();
    let again = KeyMaterial::from_spki_der(&der).expect("canonical SPKI must parse");
    assert_eq!(&again, material, "SPKI round trip changed the key");
    let _ = material.kid();
    let alg = material.default_alg();
    assert!(alg.fits(material));
    let doc = serde_json::json!({ "keys": [material.to_jwk("k", alg)] });
    let parsed = parse_jwks(&doc, 1).expect("a JWKS we write must parse");
    assert_eq!(
        parsed.keys.len(),
        1,
        "our own JWK was skipped: {:?}",
        parsed.skipped
    );
    assert_eq!(
        parsed.keys[0].material(),
        material,
        "JWK round trip changed the key"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(jwks) = parse_jwks(&doc, MAX_KEYS) {
            assert!(jwks.keys.len() <= MAX_KEYS);
            for key in &jwks.keys {
                check_material(key.material());
                for alg in Alg::ALL {
                    let accepted = key.accepts(alg);
                    assert!(!accepted || alg.fits(key.material()));
                    assert!(!key.verify(alg, data, &data[..data.len().min(64)]));
                }
            }
        }
    }
    if let Ok(material) = KeyMaterial::from_spki_der(data) {
        check_material(&material);
    }
    if let Ok(keys) = parse_public_keys_pem("fuzz.pem", data) {
        for key in keys {
            check_material(key.material());
        }
    }
});
