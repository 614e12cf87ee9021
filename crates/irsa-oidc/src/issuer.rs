//! Issuer primitives: signing keys, `kid`s, discovery and JWKS documents,
//! public-key PEM parsing, and minting Kubernetes-shaped tokens. Pure except
//! for the randomness of key generation and signing. irsa-auth's
//! `issuer_keys` keeps these keys in the store's key rings; irsa-server's
//! `issuer` module serves them (flags, upkeep timer, routes).

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, ECDSA_P521_SHA512_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use irsa_core::SecretBytes;
use serde_json::{json, Map, Value};

use crate::jwt::b64url;
use crate::keys::{Alg, KeyMaterial};

/// Path of the JWKS under an issuer URL, as Kubernetes serves it.
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// Path of the discovery document under an issuer URL.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Content type of a served JWKS.
pub const JWKS_CONTENT_TYPE: &str = "application/jwk-set+json";
/// Cache-Control of served discovery/JWKS documents.
pub const CACHE_CONTROL: &str = "public, max-age=3600";

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("signing key is not a supported PKCS#8 RSA or ECDSA P-256/P-384/P-521 private key")]
    BadPrivateKey,
    #[error("signing failed")]
    Signing,
    #[error("header and claims must be JSON objects")]
    ClaimsNotObject,
}

/// Key types the built-in issuer signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningKeyType {
    #[default]
    Rsa2048,
    EcdsaP256,
    /// ES384 (STS GetWebIdentityToken's second algorithm).
    EcdsaP384,
    /// ES512, as kube-apiserver signs with a P-521 service-account key.
    EcdsaP521,
}

impl std::str::FromStr for SigningKeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rsa" | "rsa2048" | "rsa-2048" => Ok(Self::Rsa2048),
            "ecdsa-p256" | "ec" | "p256" => Ok(Self::EcdsaP256),
            "ecdsa-p384" | "p384" => Ok(Self::EcdsaP384),
            "ecdsa-p521" | "p521" => Ok(Self::EcdsaP521),
            other => Err(format!(
                "unknown issuer key type {other:?} (expected rsa, ecdsa-p256, ecdsa-p384 or ecdsa-p521)"
            )),
        }
    }
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A public key with its Kubernetes `kid`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    material: KeyMaterial,
    kid: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("key", &self.material)
            .finish()
    }
}

impl PublicKey {
    pub fn from_material(material: KeyMaterial) -> Self {
        let kid = material.kid();
        Self { material, kid }
    }
    /// From DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        KeyMaterial::from_spki_der(der).map(Self::from_material)
    }
    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }
    /// Canonical DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.material.spki_der()
    }
    /// The JWS algorithm tokens signed by this key use.
    pub fn alg(&self) -> Alg {
        self.material.default_alg()
    }
    /// The key as a JWK (`use: sig`, `kid`, `alg`).
    pub fn to_jwk(&self) -> Value {
        self.material.to_jwk(&self.kid, self.alg())
    }
}

/// A private signing key (PKCS#8) with its public half.
pub struct SigningKey {
    pkcs8: SecretBytes,
    public: PublicKey,
    signer: Signer,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public)
            .field("pkcs8", &self.pkcs8)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key.
    pub fn generate(kind: SigningKeyType) -> Result<Self, IssuerError> {
        let pkcs8 = match kind {
            SigningKeyType::Rsa2048 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map(|d| d.as_ref().to_vec()),
            SigningKeyType::EcdsaP256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
            SigningKeyType::EcdsaP384 => EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
            SigningKeyType::EcdsaP521 => EcdsaKeyPair::generate(&ECDSA_P521_SHA512_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| IssuerError::KeyGeneration)?;
        Self::from_pkcs8_der(&pkcs8)
    }

    /// Loads a PKCS#8 DER private key (RSA, ECDSA P-256, P-384 or P-521).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, IssuerError> {
        let (signer, spki) = if let Ok(rsa) = RsaKeyPair::from_pkcs8(der) {
            let spki = rsa
                .public_key()
                .as_der()
                .map_err(|_| IssuerError::BadPrivateKey)?
                .as_ref()
                .to_vec();
            (Signer::Rsa(rsa), spki)
        } else if let Some(ec) = [
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &ECDSA_P384_SHA384_FIXED_SIGNING,
            &ECDSA_P521_SHA512_FIXED_SIGNING,
        ]
        .into_iter()
        .find_map(|alg| EcdsaKeyPair::from_pkcs8(alg, der).ok())
        {
            let spki = ec
                .public_key()
                .as_der()
                .map_err(|_| IssuerError::BadPrivateKey)?
                .as_ref()
                .to_vec();
            (Signer::Ec(ec), spki)
        } else {
            return Err(IssuerError::BadPrivateKey);
        };
        let public = PublicKey::from_spki_der(&spki).map_err(|_| IssuerError::BadPrivateKey)?;
        Ok(Self {
            pkcs8: SecretBytes::new(der.to_vec()),
            public,
            signer,
        })
    }

    /// The private key, PKCS#8 DER, for storage.
    pub fn pkcs8_der(&self) -> &SecretBytes {
        &self.pkcs8
    }
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
    pub fn kid(&self) -> &str {
        self.public.kid()
    }
    /// RS256 for RSA, ES256 for P-256, ES384 for P-384, ES512 for P-521.
    pub fn alg(&self) -> Alg {
        self.public.alg()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IssuerError> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| IssuerError::Signing)?;
                Ok(sig)
            }
            Signer::Ec(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| IssuerError::Signing),
        }
    }
}

/// Signs arbitrary claims: header `{"alg": .., "kid": ..}`.
pub fn mint(claims: &Value, key: &SigningKey) -> Result<String, IssuerError> {
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid()});
    sign_jws(&header, claims, key)
}

/// Low-level: signs `claims` under an arbitrary `header` with `key`'s own
/// algorithm, whatever the header says (tools and negative tests use this
/// to build tokens a verifier must refuse).
pub fn sign_jws(header: &Value, claims: &Value, key: &SigningKey) -> Result<String, IssuerError> {
    if !claims.is_object() || !header.is_object() {
        return Err(IssuerError::ClaimsNotObject);
    }
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", b64url(&sig)))
}

/// A name and uid (pod, service account, node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// What a Kubernetes TokenRequest for a projected service-account token says.
#[derive(Debug, Clone)]
pub struct ServiceAccountToken {
    /// Normalised issuer URL (`iss`).
    pub issuer: String,
    /// `aud`, always serialised as an array like kube-apiserver does.
    pub audiences: Vec<String>,
    pub namespace: String,
    pub service_account: ObjectRef,
    pub pod: Option<ObjectRef>,
    pub node: Option<ObjectRef>,
    pub expiration_seconds: i64,
    /// `kubernetes.io.warnafter` (only for extended-expiry tokens).
    pub warn_after: Option<i64>,
}

impl ServiceAccountToken {
    /// `system:serviceaccount:NS:NAME`.
    pub fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account.name
        )
    }

    /// The claims as kube-apiserver writes them, issued at `now` (Unix s).
    pub fn claims(&self, now: i64) -> Value {
        let mut k8s = Map::new();
        k8s.insert("namespace".into(), self.namespace.clone().into());
        if let Some(node) = &self.node {
            k8s.insert("node".into(), json!({"name": node.name, "uid": node.uid}));
        }
        if let Some(pod) = &self.pod {
            k8s.insert("pod".into(), json!({"name": pod.name, "uid": pod.uid}));
        }
        k8s.insert(
            "serviceaccount".into(),
            json!({"name": self.service_account.name, "uid": self.service_account.uid}),
        );
        if let Some(w) = self.warn_after {
            k8s.insert("warnafter".into(), w.into());
        }
        json!({
            "aud": self.audiences,
            "exp": now + self.expiration_seconds,
            "iat": now,
            "iss": self.issuer,
            "jti": uuid::Uuid::new_v4().to_string(),
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": self.subject(),
        })
    }

    /// Mints the token with `key`, issued at `now` (Unix seconds).
    pub fn mint(&self, key: &SigningKey, now: i64) -> Result<String, IssuerError> {
        mint(&self.claims(now), key)
    }
}

/// The discovery document a Kubernetes issuer serves.
pub fn discovery_document(issuer_url: &str, keys: &[PublicKey]) -> Value {
    let issuer = issuer_url.trim_end_matches('/');
    let mut algs: Vec<&str> = Vec::new();
    for k in keys {
        let a = k.alg().as_str();
        if !algs.contains(&a) {
            algs.push(a);
        }
    }
    if algs.is_empty() {
        algs.push("RS256");
    }
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
    })
}

/// The JWKS for a set of public keys (old and new during rotation).
pub fn jwks_document(keys: &[PublicKey]) -> Value {
    json!({"keys": keys.iter().map(PublicKey::to_jwk).collect::<Vec<_>>()})
}

/// Problems with a public-key PEM file; each names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("{file}: not a PEM file (no -----BEGIN ...----- block found)")]
    NotPem { file: String },
    #[error("{file}: contains a private key ({label}); give the public key (e.g. `openssl pkey -in KEY -pubout`)")]
    PrivateKey { file: String, label: String },
    #[error("{file}: unexpected PEM block {label:?}; expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE")]
    UnexpectedBlock { file: String, label: String },
    #[error("{file}: PEM block {index} ({label}): {reason}")]
    BadKey {
        file: String,
        index: usize,
        label: String,
        reason: String,
    },
}

/// Parses every public key in a PEM file: `PUBLIC KEY` (SPKI), `RSA PUBLIC
/// KEY` (PKCS#1) and `CERTIFICATE` blocks. Files holding several keys, and
/// mixed key types across files, are allowed — kube-apiserver accepts both
/// and a JWKS publishes each key with its own `alg`.
pub fn parse_public_keys_pem(file: &str, data: &[u8]) -> Result<Vec<PublicKey>, KeyFileError> {
    let blocks = pem::parse_many(data).map_err(|_| KeyFileError::NotPem { file: file.into() })?;
    if blocks.is_empty() {
        return Err(KeyFileError::NotPem { file: file.into() });
    }
    let mut out = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        let label = block.tag().to_owned();
        let bad = |reason: String| KeyFileError::BadKey {
            file: file.into(),
            index: index + 1,
            label: label.clone(),
            reason,
        };
        let material = match label.as_str() {
            "PUBLIC KEY" => KeyMaterial::from_spki_der(block.contents()).map_err(bad)?,
            "RSA PUBLIC KEY" => KeyMaterial::from_pkcs1_der(block.contents()).map_err(bad)?,
            "CERTIFICATE" => {
                let (_, cert) = x509_parser::parse_x509_certificate(block.contents())
                    .map_err(|e| bad(format!("not a valid X.509 certificate: {e}")))?;
                KeyMaterial::from_spki(cert.public_key()).map_err(bad)?
            }
            l if l.contains("PRIVATE KEY") => {
                return Err(KeyFileError::PrivateKey {
                    file: file.into(),
                    label,
                })
            }
            _ => {
                return Err(KeyFileError::UnexpectedBlock {
                    file: file.into(),
                    label,
                })
            }
        };
        out.push(PublicKey::from_material(material));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt;

    #[test]
    fn rsa_and_ec_keys_round_trip_through_pkcs8() {
        for (kind, alg) in [
            (SigningKeyType::Rsa2048, Alg::RS256),
            (SigningKeyType::EcdsaP256, Alg::ES256),
            (SigningKeyType::EcdsaP384, Alg::ES384),
            (SigningKeyType::EcdsaP521, Alg::ES512),
        ] {
            let key = SigningKey::generate(kind).unwrap();
            assert_eq!(key.alg(), alg);
            let again = SigningKey::from_pkcs8_der(key.pkcs8_der().expose()).unwrap();
            assert_eq!(key.public_key(), again.public_key());
            assert_eq!(key.kid().len(), 43);
            assert!(!format!("{key:?}").contains(&b64url(key.pkcs8_der().expose())[..20]));
        }
        assert!(SigningKey::from_pkcs8_der(b"nope").is_err());
    }

    #[test]
    fn spki_is_reencoded_canonically_and_kid_is_sha256_of_it() {
        let key = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
        let der = key.public_key().spki_der();
        let expected = b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der).as_ref());
        assert_eq!(key.kid(), expected);
        // aws-lc-rs' own SPKI encoding equals ours byte for byte.
        if let Signer::Ec(ec) = &key.signer {
            assert_eq!(ec.public_key().as_der().unwrap().as_ref(), &der[..]);
        }
    }

    #[test]
    fn service_account_claims_have_kubernetes_shape() {
        let key = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
        let req = ServiceAccountToken {
            issuer: "https://issuer.example".into(),
            audiences: vec!["sts.amazonaws.com".into()],
            namespace: "default".into(),
            service_account: ObjectRef {
                name: "app".into(),
                uid: "u1".into(),
            },
            pod: Some(ObjectRef {
                name: "p".into(),
                uid: "u2".into(),
            }),
            node: None,
            expiration_seconds: 3600,
            warn_after: None,
        };
        let token = req.mint(&key, 1_700_000_000).unwrap();
        let d = jwt::decode(&token).unwrap();
        assert_eq!(d.alg(), Some("ES256"));
        assert_eq!(d.kid(), Some(key.kid()));
        let c = d.claims();
        assert_eq!(c["aud"], json!(["sts.amazonaws.com"]));
        assert_eq!(c["sub"], "system:serviceaccount:default:app");
        assert_eq!(c["exp"], 1_700_003_600);
        assert_eq!(c["nbf"], 1_700_000_000);
        assert_eq!(c["kubernetes.io"]["pod"]["uid"], "u2");
        assert!(c["kubernetes.io"].get("node").is_none());
        assert_eq!(c["jti"].as_str().unwrap().len(), 36);
        assert_eq!(d.signature().len(), 64);
    }

    #[test]
    fn documents_list_every_key() {
        let a = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
        let b = SigningKey::generate(SigningKeyType::EcdsaP256).unwrap();
        let keys = [a.public_key().clone(), b.public_key().clone()];
        let d = discovery_document("https://h.example/cluster/", &keys);
        assert_eq!(d["issuer"], "https://h.example/cluster");
        assert_eq!(d["jwks_uri"], "https://h.example/cluster/openid/v1/jwks");
        assert_eq!(
            d["id_token_signing_alg_values_supported"],
            json!(["RS256", "ES256"])
        );
        let j = jwks_document(&keys);
        assert_eq!(j["keys"][0]["kty"], "RSA");
        assert_eq!(j["keys"][0]["e"], "AQAB");
        assert_eq!(j["keys"][0]["use"], "sig");
        assert_eq!(j["keys"][1]["crv"], "P-256");
        assert_eq!(j["keys"][1]["kid"], b.kid());
        // The published JWKS parses back to the same keys.
        let parsed = crate::keys::parse_jwks(&j, 100).unwrap();
        assert_eq!(parsed.keys.len(), 2);
        assert_eq!(parsed.keys[0].material(), a.public_key().material());
    }

    fn pem_block(label: &str, der: &[u8]) -> String {
        pem::encode(&pem::Pem::new(label, der.to_vec()))
    }

    #[test]
    fn pem_public_keys_spki_pkcs1_and_errors() {
        let key = SigningKey::generate(SigningKeyType::Rsa2048).unwrap();
        let spki = key.public_key().spki_der();
        let from_spki =
            parse_public_keys_pem("sa.pub", pem_block("PUBLIC KEY", &spki).as_bytes()).unwrap();
        assert_eq!(from_spki[0].kid(), key.kid());
        // PKCS#1 is the BIT STRING content of the SPKI.
        let (_, parsed) = <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<_>>::from_der(&spki).unwrap();
        let pkcs1 = parsed.subject_public_key.data.to_vec();
        let from_pkcs1 =
            parse_public_keys_pem("sa.pub", pem_block("RSA PUBLIC KEY", &pkcs1).as_bytes())
                .unwrap();
        assert_eq!(from_pkcs1[0].kid(), key.kid());

        let err = parse_public_keys_pem("sa.key", b"hello").unwrap_err();
        assert_eq!(
            err,
            KeyFileError::NotPem {
                file: "sa.key".into()
            }
        );
        let err = parse_public_keys_pem(
            "sa.key",
            pem_block("PRIVATE KEY", key.pkcs8_der().expose()).as_bytes(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("sa.key: contains a private key"),
            "{err}"
        );
        let err = parse_public_keys_pem("x.pem", pem_block("PUBLIC KEY", b"junk").as_bytes())
            .unwrap_err();
        assert!(
            matches!(err, KeyFileError::BadKey { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn pem_certificates_and_mixed_key_types_in_one_file() {
        let cert_key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["issuer.example".to_owned()]).unwrap();
        let cert = params.self_signed(&cert_key).unwrap();
        let ec = SigningKey::generate(SigningKeyType::EcdsaP384).unwrap();
        let bundle = format!(
            "{}{}",
            cert.pem(),
            pem_block("PUBLIC KEY", &ec.public_key().spki_der())
        );
        let keys = parse_public_keys_pem("keys.pem", bundle.as_bytes()).unwrap();
        assert_eq!(keys.len(), 2);
        let expected =
            PublicKey::from_spki_der(&rcgen::PublicKeyData::subject_public_key_info(&cert_key))
                .unwrap();
        assert_eq!(keys[0].kid(), expected.kid());
        assert_eq!(keys[0].alg(), Alg::ES256);
        assert_eq!(keys[1].alg(), Alg::ES384);
        let err = parse_public_keys_pem("k.pem", pem_block("CERTIFICATE REQUEST", b"x").as_bytes())
            .unwrap_err();
        assert!(
            err.to_string().starts_with("k.pem: unexpected PEM block"),
            "{err}"
        );
    }
}
