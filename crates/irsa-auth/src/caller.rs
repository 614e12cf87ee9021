//! The authenticated principal of a request. Only the [`Authenticator`]
//! makes a [`Caller`]: holding one proves the request's signature verified
//! (as rustls' verified types prove a check happened).
//!
//! [`Authenticator`]: crate::Authenticator

use irsa_policy::RequestPrincipal;

use crate::session_token::SessionClaims;

/// Who signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// The account root with its long-term key.
    Root,
    /// An IAM user with a long-term key.
    User {
        name: String,
        id: String,
        arn: String,
    },
    /// A role session (AssumeRole*).
    RoleSession {
        role_name: String,
        role_arn: String,
        /// `AROA…`
        role_id: String,
        session_name: String,
    },
    /// GetSessionToken credentials of an IAM user.
    UserSession {
        name: String,
        id: String,
        arn: String,
    },
    /// GetSessionToken credentials of the root.
    RootSession,
}

/// An authenticated caller. Opaque: fields are read through accessors.
#[derive(Debug, Clone)]
pub struct Caller {
    kind: CallerKind,
    account: String,
    access_key_id: String,
    session: Option<SessionClaims>,
    region: String,
}

impl Caller {
    pub(crate) fn new(
        kind: CallerKind,
        account: String,
        access_key_id: String,
        session: Option<SessionClaims>,
        region: String,
    ) -> Self {
        Self {
            kind,
            account,
            access_key_id,
            session,
            region,
        }
    }

    pub fn kind(&self) -> &CallerKind {
        &self.kind
    }

    /// The account the caller belongs to.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The access key id that signed (`AKIA…` or `ASIA…`).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The opened session token, for temporary credentials.
    pub fn session(&self) -> Option<&SessionClaims> {
        self.session.as_ref()
    }

    /// Region of the SigV4 credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn is_root(&self) -> bool {
        matches!(self.kind, CallerKind::Root | CallerKind::RootSession)
    }

    /// A role session (chained AssumeRole is capped at one hour).
    pub fn is_role_session(&self) -> bool {
        matches!(self.kind, CallerKind::RoleSession { .. })
    }

    /// The ARN GetCallerIdentity reports (and AccessDenied messages name).
    pub fn arn(&self) -> String {
        match &self.kind {
            CallerKind::Root | CallerKind::RootSession => {
                format!("arn:aws:iam::{}:root", self.account)
            }
            CallerKind::User { arn, .. } | CallerKind::UserSession { arn, .. } => arn.clone(),
            CallerKind::RoleSession {
                role_name,
                session_name,
                ..
            } => format!(
                "arn:aws:sts::{}:assumed-role/{role_name}/{session_name}",
                self.account
            ),
        }
    }

    /// `UserId` of GetCallerIdentity (`aws:userid`).
    pub fn user_id(&self) -> String {
        match &self.kind {
            CallerKind::Root | CallerKind::RootSession => self.account.clone(),
            CallerKind::User { id, .. } | CallerKind::UserSession { id, .. } => id.clone(),
            CallerKind::RoleSession {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        }
    }

    /// The IAM user name, for users and their GetSessionToken sessions.
    pub fn user_name(&self) -> Option<&str> {
        match &self.kind {
            CallerKind::User { name, .. } | CallerKind::UserSession { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The IAM entity whose policies apply (none for the root).
    pub fn subject(&self) -> Subject {
        match &self.kind {
            CallerKind::Root | CallerKind::RootSession => Subject::Root,
            CallerKind::User { name, .. } | CallerKind::UserSession { name, .. } => {
                Subject::User { name: name.clone() }
            }
            CallerKind::RoleSession {
                role_name, role_id, ..
            } => Subject::Role {
                name: role_name.clone(),
                id: Some(role_id.clone()),
            },
        }
    }

    /// The caller as the policy engine sees it.
    pub fn policy_principal(&self) -> RequestPrincipal {
        let account = self.account.as_str();
        match &self.kind {
            CallerKind::Root | CallerKind::RootSession => RequestPrincipal::root(account),
            CallerKind::User { name, id, arn } | CallerKind::UserSession { name, id, arn } => {
                RequestPrincipal::user(arn, account, name, id)
            }
            CallerKind::RoleSession { role_arn, .. } => {
                RequestPrincipal::assumed_role(&self.arn(), role_arn, account, &self.user_id())
            }
        }
    }
}

/// An IAM entity whose identity policies, boundary and tags apply to a
/// request: the caller's own, or the one `SimulatePrincipalPolicy` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Root,
    User {
        name: String,
    },
    /// `id`: the role id a session was issued for; a role deleted and
    /// re-created under the same name is another role and grants nothing.
    Role {
        name: String,
        id: Option<String>,
    },
}
