//! Long-term access keys are cached by the authenticator. A key deactivated
//! or deleted through this server stops working on the very next call; a
//! change made by another replica (here: straight in the shared store) is
//! seen within the documented bound, `irsa_auth::KEY_CACHE_TTL` (5 s).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_iam::types::StatusType;
use aws_smithy_runtime_api::client::result::SdkError;
use common::{credentials, TestServer};
use irsa_core::TestClock;
use irsa_store::{AccessKeyStatus, KeyOwner};

async fn user_with_key(server: &TestServer, name: &str) -> aws_credential_types::Credentials {
    let iam = server.iam(server.root_credentials());
    iam.create_user().user_name(name).send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    credentials(
        &key.access_key_id,
        &irsa_core::SecretString::new(key.secret_access_key),
        None,
    )
}

fn error_code<E: aws_sdk_sts::error::ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    err.as_service_error()
        .and_then(|e| e.code().map(str::to_owned))
        .unwrap_or_else(|| format!("{err:?}"))
}

#[tokio::test]
async fn a_key_changed_here_stops_working_on_the_next_call() {
    let server = TestServer::start().await;
    let alice = user_with_key(&server, "alice").await;
    let key_id = alice.access_key_id().to_owned();
    let sts = server.sts(alice);
    // Warm the cache.
    for _ in 0..3 {
        sts.get_caller_identity().send().await.unwrap();
    }
    let iam = server.iam(server.root_credentials());
    iam.update_access_key()
        .user_name("alice")
        .access_key_id(&key_id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidClientTokenId");

    iam.update_access_key()
        .user_name("alice")
        .access_key_id(&key_id)
        .status(StatusType::Active)
        .send()
        .await
        .unwrap();
    sts.get_caller_identity().send().await.unwrap();

    iam.delete_access_key()
        .user_name("alice")
        .access_key_id(&key_id)
        .send()
        .await
        .unwrap();
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidClientTokenId");
}

#[tokio::test]
async fn a_key_changed_by_another_replica_stops_working_within_the_bound() {
    let clock = TestClock::new(SystemTime::now());
    let server = TestServer::start_with_clock(Arc::new(clock.clone())).await;
    let bob = user_with_key(&server, "bob").await;
    let key_id = bob.access_key_id().to_owned();
    let sts = server.sts(bob);
    sts.get_caller_identity().send().await.unwrap();

    // Another replica deactivates the key in the shared store.
    server
        .store
        .update_access_key_status(
            &KeyOwner::User("bob".into()),
            &key_id,
            AccessKeyStatus::Inactive,
        )
        .await
        .unwrap();
    clock.advance(irsa_auth::KEY_CACHE_TTL.unsigned_abs() + Duration::from_secs(1));
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidClientTokenId");

    // And a deletion by another replica, after re-activation.
    server
        .store
        .update_access_key_status(
            &KeyOwner::User("bob".into()),
            &key_id,
            AccessKeyStatus::Active,
        )
        .await
        .unwrap();
    clock.advance(irsa_auth::KEY_CACHE_TTL.unsigned_abs() + Duration::from_secs(1));
    sts.get_caller_identity().send().await.unwrap();
    server
        .store
        .delete_access_key(&KeyOwner::User("bob".into()), &key_id)
        .await
        .unwrap();
    clock.advance(irsa_auth::KEY_CACHE_TTL.unsigned_abs() + Duration::from_secs(1));
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(error_code(&err), "InvalidClientTokenId");
}
