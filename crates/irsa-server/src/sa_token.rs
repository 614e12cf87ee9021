//! `IssueServiceAccountToken`: an irsa-specific Query action (SigV4-signed,
//! like every other call) that mints a Kubernetes-shaped projected
//! service-account token with the built-in issuer; `irsa token issue
//! --endpoint` calls it. Authorized as `irsa:IssueServiceAccountToken` on
//! the issuer's OIDC provider ARN with the condition keys
//! `irsa:Namespace` and `irsa:ServiceAccount`: root always, others need an
//! Allow.
//!
//! It is one of the Query API's extension actions
//! ([`irsa_api::ExtensionAction`]), so the generated API model stays
//! botocore's while decoding, authentication, metrics and rendering are
//! the API's own.

use std::sync::Arc;

use irsa_api::{ApiError, AwsApi, ErrorCode, ExtensionAction, Node, Params, RequestInfo};
use irsa_auth::{Caller, Check};
use irsa_core::{SecretString, SharedClock};
use irsa_store::Store;

use crate::issuer::IssuerConfig;
use irsa_auth::issuer_keys;
use irsa_oidc::TokenFields;

/// The Query action.
pub const ACTION: &str = "IssueServiceAccountToken";
/// The IAM action policies name.
pub const IAM_ACTION: &str = "irsa:IssueServiceAccountToken";

/// The action, plugged into the API (without the built-in issuer it
/// answers how to turn the issuer on).
#[derive(Debug)]
pub struct IssueServiceAccountToken {
    issuer: Option<IssuerConfig>,
    store: Arc<dyn Store>,
    clock: SharedClock,
}

impl IssueServiceAccountToken {
    pub fn new(issuer: Option<IssuerConfig>, store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self {
            issuer,
            store,
            clock,
        }
    }
}

#[async_trait::async_trait]
impl ExtensionAction for IssueServiceAccountToken {
    fn action(&self) -> &'static str {
        ACTION
    }

    async fn handle(
        &self,
        api: &AwsApi,
        caller: &Caller,
        params: &Params,
        info: &RequestInfo,
    ) -> Result<Node, ApiError> {
        let Some(issuer_config) = &self.issuer else {
            return Err(ApiError::new(
                ErrorCode::InvalidAction,
                "IssueServiceAccountToken needs the built-in issuer: start irsa serve with --issuer-url",
            ));
        };
        let fields = fields(params)?;
        let provider = irsa_core::Arn::oidc_provider(
            api.account(),
            issuer_config
                .url
                .split_once("://")
                .map_or(issuer_config.url.as_str(), |(_, rest)| rest),
        )
        .to_string();
        let context = [
            ("irsa:Namespace".to_owned(), vec![fields.namespace.clone()]),
            (
                "irsa:ServiceAccount".to_owned(),
                vec![fields.service_account.clone()],
            ),
        ];
        irsa_api::authorize::require(
            api,
            caller,
            info,
            &[Check::new(IAM_ACTION, &provider).with_context(&context)],
        )
        .await?;
        let request = fields
            .request(&issuer_config.url, param_name)
            .map_err(|problems| {
                ApiError::new(ErrorCode::InvalidParameterValue, problems.join("; "))
            })?;
        let key = issuer_keys::signing_key(self.store.as_ref(), issuer_config.key_type)
            .await
            .map_err(|err| ApiError::service_failure(&err))?;
        let now = self.clock.unix_seconds();
        let token = request
            .mint(&key, now)
            .map_err(|err| ApiError::service_failure(&err))?;
        tracing::info!(
            caller = %caller.arn(),
            subject = %request.subject(),
            kid = %key.kid(),
            "issued a service-account token"
        );
        let expires = time::OffsetDateTime::from_unix_timestamp(now + request.expiration_seconds)
            .map_err(|err| ApiError::service_failure(&err))?;
        Ok(Node::object()
            .with("Token", Node::Secret(SecretString::new(token)))
            .with("ExpirationTimestamp", Node::timestamp(expires)))
    }
}

/// The token fields from the parameters (`Audiences.member.N`, default
/// `sts.amazonaws.com`; `ExpirationSeconds` default 3600).
pub fn fields(params: &Params) -> Result<TokenFields, ApiError> {
    let required = |name: &str| {
        params
            .get(name)
            .cloned()
            .ok_or_else(|| irsa_api::model::absent_member(name))
    };
    let mut audiences: Vec<String> = (1..)
        .map_while(|i| params.get(&format!("Audiences.member.{i}")).cloned())
        .collect();
    if audiences.is_empty() {
        audiences.push("sts.amazonaws.com".to_owned());
    }
    let expiration_seconds = match params.get("ExpirationSeconds") {
        None => 3600,
        Some(v) => v.parse().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!("Value '{v}' for ExpirationSeconds is not an integer."),
            )
        })?,
    };
    Ok(TokenFields {
        namespace: required("Namespace")?,
        service_account: required("ServiceAccount")?,
        service_account_uid: params.get("ServiceAccountUid").cloned(),
        audiences,
        expiration_seconds,
        pod_name: params.get("PodName").cloned(),
        pod_uid: params.get("PodUid").cloned(),
        node_name: params.get("NodeName").cloned(),
    })
}

fn param_name(field: &str) -> String {
    match field {
        "namespace" => "Namespace",
        "service-account" => "ServiceAccount",
        "expiration" => "ExpirationSeconds",
        "audience" => "Audiences",
        "pod-uid" => "PodUid",
        "pod-name" => "PodName",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_token_fields() {
        let mut params = Params::new();
        assert_eq!(
            fields(&params).unwrap_err().code,
            ErrorCode::ValidationError
        );
        params.insert("Namespace".into(), "default".into());
        params.insert("ServiceAccount".into(), "demo".into());
        let f = fields(&params).unwrap();
        assert_eq!(f.audiences, ["sts.amazonaws.com"]);
        assert_eq!(f.expiration_seconds, 3600);
        params.insert("Audiences.member.1".into(), "a".into());
        params.insert("Audiences.member.2".into(), "b".into());
        params.insert("ExpirationSeconds".into(), "600".into());
        let f = fields(&params).unwrap();
        assert_eq!(f.audiences, ["a", "b"]);
        assert_eq!(f.expiration_seconds, 600);
        params.insert("ExpirationSeconds".into(), "soon".into());
        assert_eq!(
            fields(&params).unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        params.insert("ExpirationSeconds".into(), "60".into());
        let problems = fields(&params)
            .unwrap()
            .request("https://issuer.example", param_name)
            .unwrap_err();
        assert!(
            problems[0].starts_with("ExpirationSeconds: 60 s"),
            "{problems:?}"
        );
    }
}
