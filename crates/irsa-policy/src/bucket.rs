//! S3 bucket policies: a resource-based policy validated as S3's
//! PutBucketPolicy does, with S3's `MalformedPolicy` messages (they differ
//! from IAM's `MalformedPolicyDocument` ones for the same mistakes).

use std::fmt;

use crate::error::PolicyError;
use crate::json::{self, Json};
use crate::pattern::{Syntax, Template, Vars};
use crate::policy::{Policy, PolicyKind};

/// Why S3 refuses a bucket policy; `Display` (and [`message`](Self::message))
/// is the text of S3's `MalformedPolicy` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPolicyError {
    message: String,
    /// The engine's own finding, for logs (may repeat the message).
    detail: String,
}

impl BucketPolicyError {
    fn new(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            detail: message.clone(),
            message,
        }
    }

    /// The `<Message>` of S3's `MalformedPolicy` error.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A longer explanation for logs.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// True when the document is over S3's 20 KB bucket-policy limit (the
    /// gateway may answer it with its own error code).
    pub fn is_size_limit(&self) -> bool {
        self.message == TOO_LARGE
    }
}

impl fmt::Display for BucketPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BucketPolicyError {}

const INVALID_JSON: &str = "This policy contains invalid Json";
const FIRST_BYTE: &str = "Policies must be valid JSON and the first byte must be '{'";
const INVALID_RESOURCE: &str = "Policy has invalid resource";
const INVALID_ACTION: &str = "Policy has invalid action";
const INVALID_PRINCIPAL: &str = "Invalid principal in policy";
const NOT_APPLICABLE: &str = "Action does not apply to any resource(s) in statement";
const TOO_LARGE: &str = "Policy exceeds the maximum allowed document size.";
/// S3's bucket-policy quota, counted on the raw document.
const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;

impl From<PolicyError> for BucketPolicyError {
    fn from(e: PolicyError) -> Self {
        let message = match &e {
            PolicyError::InvalidJson { .. } => INVALID_JSON.to_owned(),
            PolicyError::InvalidVersion => "The policy must contain a valid version string".into(),
            PolicyError::MissingPrincipal => "Missing required field Principal".into(),
            PolicyError::MissingActions => "Missing required field Action".into(),
            PolicyError::MissingResources => "Missing required field Resource".into(),
            PolicyError::InvalidPrincipal(_) => INVALID_PRINCIPAL.into(),
            PolicyError::InvalidResource(_) | PolicyError::ResourceVendorWildcard => {
                INVALID_RESOURCE.into()
            }
            PolicyError::MissingVendor => INVALID_ACTION.into(),
            PolicyError::TooLarge { .. } => TOO_LARGE.into(),
            other => other.to_string(),
        };
        Self {
            message,
            detail: e.detail(),
        }
    }
}

/// Where an S3 action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Bucket,
    Object,
    /// Account-level actions (ListAllMyBuckets, jobs, access points…):
    /// nothing a bucket policy's resources can name.
    Elsewhere,
}

/// S3 actions (lower-case) and the resource type they apply to, from the
/// Service Authorization Reference for Amazon S3 (general-purpose buckets).
const S3_ACTIONS: &[(&str, Target)] = &[
    ("abortmultipartupload", Target::Object),
    ("bypassgovernanceretention", Target::Object),
    ("deleteobject", Target::Object),
    ("deleteobjecttagging", Target::Object),
    ("deleteobjectversion", Target::Object),
    ("deleteobjectversiontagging", Target::Object),
    ("getobject", Target::Object),
    ("getobjectacl", Target::Object),
    ("getobjectattributes", Target::Object),
    ("getobjectlegalhold", Target::Object),
    ("getobjectretention", Target::Object),
    ("getobjecttagging", Target::Object),
    ("getobjecttorrent", Target::Object),
    ("getobjectversion", Target::Object),
    ("getobjectversionacl", Target::Object),
    ("getobjectversionattributes", Target::Object),
    ("getobjectversionforreplication", Target::Object),
    ("getobjectversiontagging", Target::Object),
    ("getobjectversiontorrent", Target::Object),
    ("initiatereplication", Target::Object),
    ("listmultipartuploadparts", Target::Object),
    ("objectowneroverridetobucketowner", Target::Object),
    ("putobject", Target::Object),
    ("putobjectacl", Target::Object),
    ("putobjectlegalhold", Target::Object),
    ("putobjectretention", Target::Object),
    ("putobjecttagging", Target::Object),
    ("putobjectversionacl", Target::Object),
    ("putobjectversiontagging", Target::Object),
    ("replicatedelete", Target::Object),
    ("replicateobject", Target::Object),
    ("replicatetags", Target::Object),
    ("restoreobject", Target::Object),
    ("createbucket", Target::Bucket),
    ("deletebucket", Target::Bucket),
    ("deletebucketownershipcontrols", Target::Bucket),
    ("deletebucketpolicy", Target::Bucket),
    ("deletebucketwebsite", Target::Bucket),
    ("getaccelerateconfiguration", Target::Bucket),
    ("getanalyticsconfiguration", Target::Bucket),
    ("getbucketacl", Target::Bucket),
    ("getbucketcors", Target::Bucket),
    ("getbucketlocation", Target::Bucket),
    ("getbucketlogging", Target::Bucket),
    ("getbucketnotification", Target::Bucket),
    ("getbucketobjectlockconfiguration", Target::Bucket),
    ("getbucketownershipcontrols", Target::Bucket),
    ("getbucketpolicy", Target::Bucket),
    ("getbucketpolicystatus", Target::Bucket),
    ("getbucketpublicaccessblock", Target::Bucket),
    ("getbucketrequestpayment", Target::Bucket),
    ("getbuckettagging", Target::Bucket),
    ("getbucketversioning", Target::Bucket),
    ("getbucketwebsite", Target::Bucket),
    ("getencryptionconfiguration", Target::Bucket),
    ("getintelligenttieringconfiguration", Target::Bucket),
    ("getinventoryconfiguration", Target::Bucket),
    ("getlifecycleconfiguration", Target::Bucket),
    ("getmetricsconfiguration", Target::Bucket),
    ("getreplicationconfiguration", Target::Bucket),
    ("listbucket", Target::Bucket),
    ("listbucketmultipartuploads", Target::Bucket),
    ("listbucketversions", Target::Bucket),
    ("putaccelerateconfiguration", Target::Bucket),
    ("putanalyticsconfiguration", Target::Bucket),
    ("putbucketacl", Target::Bucket),
    ("putbucketcors", Target::Bucket),
    ("putbucketlogging", Target::Bucket),
    ("putbucketnotification", Target::Bucket),
    ("putbucketobjectlockconfiguration", Target::Bucket),
    ("putbucketownershipcontrols", Target::Bucket),
    ("putbucketpolicy", Target::Bucket),
    ("putbucketpublicaccessblock", Target::Bucket),
    ("putbucketrequestpayment", Target::Bucket),
    ("putbuckettagging", Target::Bucket),
    ("putbucketversioning", Target::Bucket),
    ("putbucketwebsite", Target::Bucket),
    ("putencryptionconfiguration", Target::Bucket),
    ("putintelligenttieringconfiguration", Target::Bucket),
    ("putinventoryconfiguration", Target::Bucket),
    ("putlifecycleconfiguration", Target::Bucket),
    ("putmetricsconfiguration", Target::Bucket),
    ("putreplicationconfiguration", Target::Bucket),
    ("listallmybuckets", Target::Elsewhere),
    ("getaccountpublicaccessblock", Target::Elsewhere),
    ("putaccountpublicaccessblock", Target::Elsewhere),
    ("createjob", Target::Elsewhere),
    ("describejob", Target::Elsewhere),
    ("listjobs", Target::Elsewhere),
    ("updatejobpriority", Target::Elsewhere),
    ("updatejobstatus", Target::Elsewhere),
    ("createaccesspoint", Target::Elsewhere),
    ("deleteaccesspoint", Target::Elsewhere),
    ("getaccesspoint", Target::Elsewhere),
    ("listaccesspoints", Target::Elsewhere),
    ("getaccesspointpolicy", Target::Elsewhere),
    ("putaccesspointpolicy", Target::Elsewhere),
    ("deleteaccesspointpolicy", Target::Elsewhere),
    ("liststoragelensconfigurations", Target::Elsewhere),
    ("getstoragelensconfiguration", Target::Elsewhere),
    ("putstoragelensconfiguration", Target::Elsewhere),
    ("deletestoragelensconfiguration", Target::Elsewhere),
];

struct NoVars;

impl Vars for NoVars {
    fn var(&self, _key_lc: &str) -> Option<&str> {
        None
    }
}

const LOWER_GLOB: Syntax = Syntax {
    wildcards: true,
    variables: false,
    lowercase: true,
};

/// Resource ARNs match case-sensitively.
const CASE_GLOB: Syntax = Syntax {
    wildcards: true,
    variables: false,
    lowercase: false,
};

/// The targets of the known S3 actions an `Action` value matches; `None`
/// when it is not an S3 action (or `*`) or matches no S3 action.
fn action_targets(action: &str) -> Option<Vec<Target>> {
    if action == "*" {
        return Some(vec![Target::Bucket, Target::Object, Target::Elsewhere]);
    }
    let (vendor, name) = action.split_once(':')?;
    if !vendor.eq_ignore_ascii_case("s3") {
        return None;
    }
    let pattern = Template::compile(name, LOWER_GLOB);
    let targets: Vec<Target> = S3_ACTIONS
        .iter()
        .filter(|(known, _)| pattern.matches(known, false, &NoVars))
        .map(|(_, t)| *t)
        .collect();
    (!targets.is_empty()).then_some(targets)
}

/// What a `Resource` value of this bucket's policy can name.
struct ResourceReach {
    bucket: bool,
    object: bool,
}

/// `Some` when the value names this bucket or objects in it
/// (`arn:PARTITION:s3:::BUCKET[/KEY]`, wildcards allowed); `None` otherwise.
fn resource_reach(resource: &str, bucket: &str) -> Option<ResourceReach> {
    if resource == "*" {
        return Some(ResourceReach {
            bucket: true,
            object: true,
        });
    }
    let rest = resource.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (partition, service, region, account, path) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if partition.is_empty() || service != "s3" || !region.is_empty() || !account.is_empty() {
        return None;
    }
    let pattern = Template::compile(path, CASE_GLOB);
    let bucket_hit = pattern.matches(bucket, false, &NoVars);
    // Object ARNs are `BUCKET/KEY`: a pattern with a `/` names objects when
    // its bucket part matches; a `bucket*`-style pattern covers keys too.
    let object_hit = match path.split_once('/') {
        Some((bucket_part, _)) => {
            Template::compile(bucket_part, CASE_GLOB).matches(bucket, false, &NoVars)
        }
        None => bucket_hit && path.ends_with('*'),
    };
    (bucket_hit || object_hit).then_some(ResourceReach {
        bucket: bucket_hit,
        object: object_hit,
    })
}

fn strings(v: &Json) -> Vec<&str> {
    match v {
        Json::String(s) => vec![s.as_str()],
        Json::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                Json::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The checks S3 makes before (and in other words than) IAM's grammar.
fn check_shape(tree: &Json) -> Result<(), BucketPolicyError> {
    let Json::Object(fields) = tree else {
        return Err(BucketPolicyError::new(INVALID_JSON));
    };
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let statements: Vec<&Json> = match get("Statement") {
        None => return Err(BucketPolicyError::new("Missing required field Statement")),
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    if statements.is_empty() {
        return Err(BucketPolicyError::new(
            "Could not parse the policy: Statement is empty!",
        ));
    }
    for st in statements {
        let Json::Object(st) = st else {
            continue;
        };
        let has = |name: &str| st.iter().any(|(k, _)| k == name);
        match st.iter().find(|(k, _)| k == "Effect").map(|(_, v)| v) {
            None => return Err(BucketPolicyError::new("Missing required field Effect")),
            Some(Json::String(e)) if e == "Allow" || e == "Deny" => {}
            Some(Json::String(e)) => {
                return Err(BucketPolicyError::new(format!("Invalid effect: {e}")))
            }
            Some(_) => return Err(BucketPolicyError::new(INVALID_JSON)),
        }
        if !has("Principal") && !has("NotPrincipal") {
            return Err(BucketPolicyError::new("Missing required field Principal"));
        }
        if !has("Action") && !has("NotAction") {
            return Err(BucketPolicyError::new("Missing required field Action"));
        }
        if !has("Resource") && !has("NotResource") {
            return Err(BucketPolicyError::new("Missing required field Resource"));
        }
    }
    Ok(())
}

/// The S3-specific checks on each statement: every resource names this
/// bucket or its objects, every action is an S3 action, and every action
/// applies to at least one of the statement's resources.
fn check_statements(tree: &Json, bucket: &str) -> Result<(), BucketPolicyError> {
    let Json::Object(fields) = tree else {
        return Ok(());
    };
    let statements: Vec<&Json> = match fields.iter().find(|(k, _)| k == "Statement") {
        Some((_, Json::Array(items))) => items.iter().collect(),
        Some((_, one)) => vec![one],
        None => Vec::new(),
    };
    for st in statements {
        let Json::Object(st) = st else {
            continue;
        };
        let get = |name: &str| st.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let mut reach = ResourceReach {
            bucket: false,
            object: false,
        };
        for field in ["Resource", "NotResource"] {
            for r in get(field).map(strings).unwrap_or_default() {
                let r_reach = resource_reach(r, bucket)
                    .ok_or_else(|| BucketPolicyError::new(INVALID_RESOURCE))?;
                reach.bucket |= r_reach.bucket;
                reach.object |= r_reach.object;
            }
        }
        let negated = get("NotResource").is_some();
        for field in ["Action", "NotAction"] {
            for a in get(field).map(strings).unwrap_or_default() {
                let targets =
                    action_targets(a).ok_or_else(|| BucketPolicyError::new(INVALID_ACTION))?;
                // NotAction and NotResource name what a statement leaves out;
                // only Action against Resource can fail to apply.
                if field == "NotAction" || negated {
                    continue;
                }
                let applies = targets.iter().any(|t| match t {
                    Target::Bucket => reach.bucket,
                    Target::Object => reach.object,
                    Target::Elsewhere => false,
                });
                if !applies {
                    return Err(BucketPolicyError::new(NOT_APPLICABLE));
                }
            }
        }
    }
    Ok(())
}

impl Policy {
    /// Parse and validate a bucket policy for `bucket` as S3's
    /// PutBucketPolicy does: IAM's resource-policy grammar (every statement
    /// has a `Principal` or `NotPrincipal` and resources), plus S3's own
    /// rules (resources inside this bucket, S3 actions only, each action
    /// applying to one of the statement's resources). Errors carry S3's
    /// `MalformedPolicy` message.
    pub fn parse_bucket_policy(text: &str, bucket: &str) -> Result<Policy, BucketPolicyError> {
        if !text.trim_start().starts_with('{') {
            return Err(BucketPolicyError::new(FIRST_BYTE));
        }
        if text.len() > MAX_BUCKET_POLICY_BYTES {
            return Err(BucketPolicyError::new(TOO_LARGE));
        }
        let tree = json::parse_str(text)?;
        check_shape(&tree)?;
        let policy = Policy::parse_with_limit(
            text,
            PolicyKind::Resource,
            crate::limits::SizeLimit::Unlimited,
        )?;
        check_statements(&tree, bucket)?;
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_targets_follow_the_s3_reference() {
        assert_eq!(action_targets("s3:GetObject"), Some(vec![Target::Object]));
        assert_eq!(action_targets("S3:listbucket"), Some(vec![Target::Bucket]));
        assert!(action_targets("s3:Get*").unwrap().contains(&Target::Bucket));
        assert_eq!(action_targets("s3:GetObjectt"), None);
        assert_eq!(action_targets("sqs:SendMessage"), None);
        assert_eq!(action_targets("s3:Nothing*"), None);
    }

    #[test]
    fn resource_reach_of_patterns() {
        let r = |s| resource_reach(s, "photos").map(|r| (r.bucket, r.object));
        assert_eq!(r("arn:aws:s3:::photos"), Some((true, false)));
        assert_eq!(r("arn:aws:s3:::photos/*"), Some((false, true)));
        assert_eq!(r("arn:aws:s3:::photos/2024/a.jpg"), Some((false, true)));
        assert_eq!(r("arn:aws:s3:::pho*"), Some((true, true)));
        assert_eq!(r("arn:aws:s3:::*"), Some((true, true)));
        assert_eq!(r("*"), Some((true, true)));
        assert_eq!(r("arn:aws:s3:::other"), None);
        assert_eq!(r("arn:aws:s3:::other/*"), None);
        assert_eq!(r("arn:aws:s3:::Photos"), None);
        assert_eq!(r("arn:aws:s3:us-east-1::photos"), None);
        assert_eq!(r("arn:aws:sqs:::photos"), None);
        assert_eq!(r("photos"), None);
    }
}
