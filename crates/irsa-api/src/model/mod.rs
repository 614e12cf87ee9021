//! Typed, validated requests of every implemented STS and IAM operation,
//! decoded from Query parameters by table-driven specs generated from
//! botocore's service models (`tools/gen_model.py` → `generated.rs`), and
//! the action → service routing table.
//!
//! Each operation has a `{Action}Request` struct with `decode(&Params)`;
//! [`Request`] is the enum over all of them. Enum-valued members stay
//! `String` (already checked against the model's value set).

pub mod checks;
pub mod decode;
#[rustfmt::skip]
mod generated;
pub mod spec;

pub use decode::absent_member;
pub use generated::*;
pub use spec::{Member, OperationSpec, Shape, ShapeKind};

use crate::error::ApiError;
use crate::protocol::query::QueryRequest;
use crate::Service;

/// The spec of an implemented operation, by action name (case-sensitive, as AWS).
pub fn operation(action: &str) -> Option<&'static OperationSpec> {
    OPERATIONS.iter().copied().find(|op| op.name == action)
}

/// The service an action belongs to, for routing unsigned requests.
pub fn service_of(action: &str) -> Option<Service> {
    operation(action).map(|op| op.service)
}

/// Resolves an action to its operation. `scope_service` is the service of
/// the SigV4 credential scope when the request is signed (it wins over the
/// action name, as STS and IAM share one port); `version` is the request's
/// `Version` (absent: the operation's own version is assumed). Unknown
/// actions, actions of the other service and wrong versions are
/// `InvalidAction`: "Could not find operation X for version Y".
pub fn route(
    action: &str,
    version: Option<&str>,
    scope_service: Option<Service>,
) -> Result<&'static OperationSpec, ApiError> {
    let op = operation(action).filter(|op| scope_service.is_none_or(|s| s == op.service));
    let Some(op) = op else {
        let version = version
            .or_else(|| scope_service.map(Service::api_version))
            .unwrap_or(Service::Sts.api_version());
        return Err(ApiError::invalid_action(action, version));
    };
    match version {
        Some(v) if v != op.service.api_version() => Err(ApiError::invalid_action(action, v)),
        _ => Ok(op),
    }
}

/// Routes and decodes a whole Query request into its typed form.
pub fn decode_request(
    request: &QueryRequest,
    scope_service: Option<Service>,
) -> Result<Request, ApiError> {
    let op = route(&request.action, request.version.as_deref(), scope_service)?;
    Request::decode(op.name, &request.params)
        .unwrap_or_else(|| Err(ApiError::invalid_action(op.name, op.service.api_version())))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::error::ErrorCode;
    use crate::protocol::query::{parse_query, Params};

    fn params(q: &str) -> Params {
        parse_query(q.as_bytes()).unwrap()
    }

    fn request(body: &str) -> Result<Request, ApiError> {
        let q = QueryRequest::decode(None, Some(body.as_bytes()))?;
        decode_request(&q, None)
    }

    const ROLE: &str = "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp";

    #[test]
    fn assume_role_decodes_every_member_kind() {
        let r = AssumeRoleRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=s1&DurationSeconds=900&ExternalId=ext\
             &PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fp1\
             &PolicyArns.member.2.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess\
             &Tags.member.1.Key=team&Tags.member.1.Value=a&Tags.member.2.Key=env&Tags.member.2.Value=&TransitiveTagKeys.member.1=team\
             &SourceIdentity=alice&Policy=%7B%7D"
        )))
        .unwrap();
        assert_eq!(r.role_arn, "arn:aws:iam::123456789012:role/app");
        assert_eq!(r.role_session_name, "s1");
        assert_eq!(r.duration_seconds, Some(900));
        assert_eq!(r.external_id.as_deref(), Some("ext"));
        assert_eq!(r.policy.as_deref(), Some("{}"));
        assert_eq!(r.policy_arns.len(), 2);
        assert_eq!(
            r.policy_arns[1].arn.as_deref(),
            Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
        );
        assert_eq!(
            r.tags,
            vec![
                Tag {
                    key: "team".into(),
                    value: "a".into()
                },
                Tag {
                    key: "env".into(),
                    value: String::new()
                }
            ]
        );
        assert_eq!(r.transitive_tag_keys, vec!["team".to_owned()]);
        assert_eq!(r.source_identity.as_deref(), Some("alice"));
        assert_eq!(r.serial_number, None);
    }

    /// An absent required member is a constraint violation like any other
    /// (`ValidationError`, "Value null at 'x' …"), reported with the rest,
    /// not IAM's old `MissingParameter`.
    #[test]
    fn missing_required_members_are_validation_errors() {
        let e = AssumeRoleRequest::decode(&params(&format!("RoleArn={ROLE}"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert_eq!(e.http_status(), 400);
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        );
        let e = GetRoleRequest::decode(&params("")).unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null"
        );
        let e = CreateUserRequest::decode(&params("")).unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
        );
        // Actions decoded by hand (irsa's own) answer with the same error.
        let by_hand = absent_member("UserName");
        assert_eq!(by_hand.code, e.code);
        assert_eq!(by_hand.message, e.message);
        // A required member of a list element names the element's path.
        let e = TagRoleRequest::decode(&params("RoleName=app&Tags.member.1.Key=k")).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"
        );
        // Every absent member, in model order, with other violations.
        let e = AssumeRoleRequest::decode(&params("RoleSessionName=x")).unwrap_err();
        assert_eq!(
            e.message,
            "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
             Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
        );
        let e = CreateRoleRequest::decode(&params("")).unwrap_err();
        assert!(
            e.message
                .starts_with("2 validation errors detected: Value null at 'roleName'"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("Value null at 'assumeRolePolicyDocument'"),
            "{}",
            e.message
        );
        // The sensitive web identity token, when absent, is still named.
        let e = AssumeRoleWithWebIdentityRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=s1"
        )))
        .unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null"
        );
        // Parse errors still come first, as their own code.
        let e = ListPoliciesRequest::decode(&params("MaxItems=ten")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn validation_messages_in_aws_shape() {
        let e = AssumeRoleRequest::decode(&params(&format!("RoleArn={ROLE}&RoleSessionName=x%21")))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert_eq!(
            e.message,
            r"1 validation error detected: Value 'x!' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
        let e = AssumeRoleRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=x&DurationSeconds=99999"
        )))
        .unwrap_err();
        assert_eq!(
            e.message,
            "2 validation errors detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; \
             Value '99999' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"
        );
        // Non-ASCII session names break the (ASCII) pattern.
        let e = AssumeRoleRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=sess%C3%ADon"
        )))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.contains("regular expression pattern"));
        let e = AssumeRoleRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=ss&DurationSeconds=899"
        )))
        .unwrap_err();
        assert!(
            e.message
                .ends_with("Member must have value greater than or equal to 900"),
            "{}",
            e.message
        );
    }

    #[test]
    fn list_element_paths_and_list_lengths() {
        let e = TagRoleRequest::decode(&params(
            "RoleName=app&Tags.member.1.Key=&Tags.member.1.Value=v",
        ))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(
            e.message.contains("Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"),
            "{}",
            e.message
        );
        let mut q = String::from("Url=https%3A%2F%2Fexample.com&ThumbprintList.member.1=");
        q.push_str(&"a".repeat(39));
        let e = CreateOpenIDConnectProviderRequest::decode(&params(&q)).unwrap_err();
        assert!(
            e.message.contains("at 'thumbprintList.1.member' failed to satisfy constraint: Member must have length greater than or equal to 40"),
            "{}",
            e.message
        );
        // List sizes: the model caps tag lists at 50.
        let mut many = String::new();
        for i in 1..=51 {
            write!(many, "&Tags.member.{i}.Key=k{i}&Tags.member.{i}.Value=v").unwrap();
        }
        let e = TagRoleRequest::decode(&params(&format!("RoleName=app{many}"))).unwrap_err();
        assert!(
            e.message.starts_with(
                "1 validation error detected: Value '[{Key=k1, Value=v}, {Key=k2, Value=v}"
            ),
            "{}",
            e.message
        );
        assert!(
            e.message.ends_with("at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"),
            "{}",
            e.message
        );
        // Empty list as botocore sends it.
        let r = CreateOpenIDConnectProviderRequest::decode(&params(
            "Url=https%3A%2F%2Fexample.com&ClientIDList=",
        ))
        .unwrap();
        assert!(r.client_id_list.is_empty());
        assert!(r.thumbprint_list.is_empty());
    }

    /// Every IAM operation with a `Tags` list refuses keys that differ
    /// only in case, after (not instead of) the model's constraints.
    #[test]
    fn duplicate_tag_keys_in_every_iam_tagging_operation() {
        let dup = "Tags.member.1.Key=Team&Tags.member.1.Value=a&Tags.member.2.Key=team&Tags.member.2.Value=b";
        let pdoc = "%7B%7D";
        let cases = [
            ("CreateUser", "UserName=u".to_owned()),
            ("TagUser", "UserName=u".to_owned()),
            ("CreateRole", format!("RoleName=r&AssumeRolePolicyDocument={pdoc}")),
            ("TagRole", "RoleName=r".to_owned()),
            ("CreatePolicy", format!("PolicyName=p&PolicyDocument={pdoc}")),
            (
                "TagPolicy",
                "PolicyArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fp".to_owned(),
            ),
            (
                "CreateOpenIDConnectProvider",
                "Url=https%3A%2F%2Fissuer.example".to_owned(),
            ),
            (
                "TagOpenIDConnectProvider",
                "OpenIDConnectProviderArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Aoidc-provider%2Fissuer.example".to_owned(),
            ),
        ];
        let mut tagging = OPERATIONS
            .iter()
            .filter(|op| op.service == Service::Iam && op.input.iter().any(|m| m.name == "Tags"))
            .map(|op| op.name)
            .collect::<Vec<_>>();
        tagging.sort_unstable();
        let mut covered = cases.iter().map(|(name, _)| *name).collect::<Vec<_>>();
        covered.sort_unstable();
        assert_eq!(tagging, covered, "a tagging operation without a case");
        for (name, base) in cases {
            let ok = Request::decode(name, &params(&format!("{base}&Tags.member.1.Key=Team&Tags.member.1.Value=a&Tags.member.2.Key=env&Tags.member.2.Value=b"))).unwrap();
            assert!(ok.is_ok(), "{name}: {ok:?}");
            let e = Request::decode(name, &params(&format!("{base}&{dup}")))
                .unwrap()
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{name}");
            assert_eq!(
                e.message,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                "{name}"
            );
        }
        // Constraint violations are reported first.
        let e = TagRoleRequest::decode(&params(&format!("RoleName=a%21&{dup}"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        // STS session tags are the STS handlers' business.
        assert!(AssumeRoleRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=s1&{dup}"
        )))
        .is_ok());
    }

    #[test]
    fn enums_booleans_and_numbers() {
        let r = UpdateAccessKeyRequest::decode(&params(
            "AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Inactive",
        ))
        .unwrap();
        assert_eq!(r.status, "Inactive");
        let e =
            UpdateAccessKeyRequest::decode(&params("AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Off"))
                .unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'Off' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"
        );
        let r = ListPoliciesRequest::decode(&params("Scope=Local&OnlyAttached=true&MaxItems=10"))
            .unwrap();
        assert_eq!(r.only_attached, Some(true));
        assert_eq!(r.max_items, Some(10));
        let e = ListPoliciesRequest::decode(&params("OnlyAttached=yes")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        let e = ListPoliciesRequest::decode(&params("MaxItems=ten")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(e.message.contains("MaxItems"));
        let e = ListPoliciesRequest::decode(&params("MaxItems=99999999999")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        let e = ListPoliciesRequest::decode(&params("MaxItems=0")).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        let e = GetSessionTokenRequest::decode(&params("DurationSeconds=129601")).unwrap_err();
        assert!(
            e.message.contains("less than or equal to 129600"),
            "{}",
            e.message
        );
    }

    #[test]
    fn nested_lists_in_structures() {
        let r = SimulateCustomPolicyRequest::decode(&params(
            "PolicyInputList.member.1=%7B%7D&ActionNames.member.1=s3%3AGetObject\
             &ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyType=ip\
             &ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&ContextEntries.member.1.ContextKeyValues.member.2=10.0.0.2",
        ))
        .unwrap();
        assert_eq!(r.context_entries.len(), 1);
        assert_eq!(
            r.context_entries[0].context_key_values,
            vec!["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(r.context_entries[0].context_key_type.as_deref(), Some("ip"));
        let e = SimulateCustomPolicyRequest::decode(&params(
            "PolicyInputList.member.1=%7B%7D&ActionNames.member.1=a&ContextEntries.member.1.ContextKeyValues.member.2=x",
        ))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidQueryParameter);
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let e = AssumeRoleWithWebIdentityRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken=abc"
        )))
        .unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
        );
        let token = "x".repeat(20_001);
        let e = AssumeRoleWithWebIdentityRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken={token}"
        )))
        .unwrap_err();
        assert!(!e.message.contains("xxxx"));
        assert!(e.message.contains("less than or equal to 20000"));
        let r = AssumeRoleWithWebIdentityRequest::decode(&params(&format!(
            "RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
        )))
        .unwrap();
        assert_eq!(
            r.web_identity_token.expose(),
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
        );
        assert!(!format!("{r:?}").contains("eyJ"));
    }

    #[test]
    fn length_counts_utf16_units() {
        // 64 emoji = 128 UTF-16 units > 64 for a role name; also fails the pattern.
        let name = "%F0%9F%98%80".repeat(64);
        let e = GetRoleRequest::decode(&params(&format!("RoleName={name}"))).unwrap_err();
        assert!(
            e.message.starts_with("2 validation errors detected"),
            "{}",
            e.message
        );
    }

    #[test]
    fn routing() {
        assert_eq!(service_of("AssumeRoleWithWebIdentity"), Some(Service::Sts));
        assert_eq!(
            service_of("CreateOpenIDConnectProvider"),
            Some(Service::Iam)
        );
        assert_eq!(service_of("assumerole"), None);
        assert_eq!(
            route("GetCallerIdentity", Some("2011-06-15"), None)
                .unwrap()
                .name,
            "GetCallerIdentity"
        );
        assert_eq!(
            route("GetCallerIdentity", None, Some(Service::Sts))
                .unwrap()
                .service,
            Service::Sts
        );
        let e = route("Frobnicate", Some("2011-06-15"), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidAction);
        assert_eq!(
            e.message,
            "Could not find operation Frobnicate for version 2011-06-15"
        );
        // Version of the other service.
        let e = route("CreateRole", Some("2011-06-15"), None).unwrap_err();
        assert_eq!(
            e.message,
            "Could not find operation CreateRole for version 2011-06-15"
        );
        // Signed for STS but an IAM action.
        let e = route("CreateRole", Some("2010-05-08"), Some(Service::Sts)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidAction);
        let e = route("Nope", None, Some(Service::Iam)).unwrap_err();
        assert_eq!(
            e.message,
            "Could not find operation Nope for version 2010-05-08"
        );
    }

    #[test]
    fn whole_requests() {
        let r = request("Action=GetCallerIdentity&Version=2011-06-15").unwrap();
        assert_eq!(
            r,
            Request::GetCallerIdentity(GetCallerIdentityRequest::default())
        );
        assert_eq!(r.action(), "GetCallerIdentity");
        assert_eq!(r.service(), Service::Sts);
        let r = request("Action=CreateRole&Version=2010-05-08&RoleName=app&AssumeRolePolicyDocument=%7B%7D&MaxSessionDuration=7200&Path=%2Fteam%2F").unwrap();
        let Request::CreateRole(c) = r else {
            panic!("wrong variant")
        };
        assert_eq!(c.max_session_duration, Some(7200));
        assert_eq!(c.path.as_deref(), Some("/team/"));
        let e = request("Action=CreateRole&Version=2010-05-08&RoleName=app&AssumeRolePolicyDocument=%7B%7D&Path=team").unwrap_err();
        assert!(e.message.contains("at 'path'"), "{}", e.message);
        // Unknown parameters are ignored.
        assert!(
            request("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Date=20261123T140000Z")
                .is_ok()
        );
    }

    #[test]
    fn operation_table_covers_the_issues() {
        for name in [
            "GetCallerIdentity",
            "AssumeRole",
            "AssumeRoleWithWebIdentity",
            "GetSessionToken",
            "GetAccessKeyInfo",
            "DecodeAuthorizationMessage",
            "GetWebIdentityToken",
            "CreateUser",
            "DeleteAccessKey",
            "PutUserPolicy",
            "CreateRole",
            "TagRole",
            "CreatePolicyVersion",
            "ListEntitiesForPolicy",
            "AttachUserPolicy",
            "PutRolePermissionsBoundary",
            "UpdateOpenIDConnectProviderThumbprint",
            "SimulatePrincipalPolicy",
            "GetAccountAuthorizationDetails",
            "EnableOutboundWebIdentityFederation",
            "GetOutboundWebIdentityFederationInfo",
        ] {
            assert!(operation(name).is_some(), "{name}");
            let decoded = Request::decode(name, &Params::new()).expect("known action");
            // Either decodes (no required members) or names each missing one.
            let required = operation(name)
                .unwrap()
                .input
                .iter()
                .filter(|m| m.required)
                .count();
            match decoded {
                Ok(_) => assert_eq!(required, 0, "{name}"),
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::ValidationError, "{name}");
                    assert_eq!(
                        e.message.matches("Member must not be null").count(),
                        required,
                        "{name}: {}",
                        e.message
                    );
                }
            }
        }
        assert!(Request::decode("Nope", &Params::new()).is_none());
    }

    #[test]
    fn every_pattern_compiles() {
        fn walk(shape: &'static Shape, seen: &mut Vec<&'static str>) {
            if let Some(p) = shape.pattern {
                assert!(spec::compile_java_pattern(p).is_ok(), "{}: {p}", shape.name);
                assert!(shape.regex().is_some());
                seen.push(shape.name);
            }
            match &shape.kind {
                ShapeKind::List(e) => walk(e, seen),
                ShapeKind::Structure(ms) => ms.iter().for_each(|m| walk(m.shape, seen)),
                _ => {}
            }
        }
        let mut seen = Vec::new();
        for op in OPERATIONS {
            op.input.iter().for_each(|m| walk(m.shape, &mut seen));
        }
        assert!(seen.len() > 50);
    }
}
