// Shared by the webhook targets (included with `#[path]`).
#![allow(dead_code)] // each target uses part of it

use std::collections::BTreeMap;

use irsa_webhook::{Annotations, MutationConfig, StaticLookup};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/app";

fn annotations(pairs: &[(&str, &str)]) -> Annotations {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// ServiceAccounts with every annotation the webhook reads, good and bad.
pub fn lookup() -> StaticLookup {
    StaticLookup::new()
        .with(
            "default",
            "app",
            annotations(&[("eks.amazonaws.com/role-arn", ROLE)]),
        )
        .with(
            "default",
            "default",
            annotations(&[
                ("eks.amazonaws.com/role-arn", ROLE),
                ("eks.amazonaws.com/audience", "irsa"),
                ("eks.amazonaws.com/token-expiration", "3600"),
                ("eks.amazonaws.com/sts-regional-endpoints", "true"),
                ("irsa.dev/sts-endpoint-url", "https://irsa.example:8443"),
                ("irsa.dev/s3-endpoint-url", "https://s3.irsa.example"),
            ]),
        )
        .with("default", "plain", BTreeMap::new())
        .with(
            "default",
            "bad",
            annotations(&[
                ("eks.amazonaws.com/role-arn", "arn:aws:iam::123:user/nope"),
                ("eks.amazonaws.com/token-expiration", "tomorrow"),
                ("eks.amazonaws.com/sts-regional-endpoints", "perhaps"),
                ("irsa.dev/sts-endpoint-url", "ftp://x"),
            ]),
        )
}

pub fn config() -> MutationConfig {
    MutationConfig {
        region: Some("eu-west-1".to_owned()),
        regional_sts: true,
        sts_endpoint_url: Some("https://irsa.internal".to_owned()),
        non_root_fs_group: Some(65534),
        ..MutationConfig::default()
    }
}
