//! Every flag has an `IRSA_*` env twin (own test binary: it sets process env).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use clap::{CommandFactory, Parser};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: irsa_webhook::WebhookArgs,
}

#[test]
fn env_twins() {
    // Every argument declares an IRSA_* env name derived from its flag.
    let command = Cli::command();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" {
            continue;
        }
        let env = arg
            .get_env()
            .unwrap_or_else(|| panic!("--{long} has no env twin"));
        let expected = format!("IRSA_{}", long.to_uppercase().replace('-', "_"));
        assert_eq!(env.to_str(), Some(expected.as_str()), "--{long}");
    }

    std::env::set_var("IRSA_TOKEN_AUDIENCE", "from-env");
    std::env::set_var("IRSA_PORT", "8443");
    std::env::set_var("IRSA_STS_REGIONAL_ENDPOINT", "true");
    std::env::set_var("IRSA_IN_CLUSTER", "false");
    std::env::set_var("IRSA_SERVICE_ACCOUNT_LOOKUP_GRACE_PERIOD", "2s");
    let cli = Cli::try_parse_from(["webhook"]).unwrap();
    assert_eq!(cli.args.token_audience, "from-env");
    assert_eq!(cli.args.port, 8443);
    assert!(cli.args.sts_regional_endpoint);
    assert!(!cli.args.in_cluster);
    assert_eq!(cli.args.service_account_lookup_grace_period, "2s");
    // A flag beats its env twin.
    let cli = Cli::try_parse_from(["webhook", "--port", "9443"]).unwrap();
    assert_eq!(cli.args.port, 9443);
}
