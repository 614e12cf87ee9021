//! The `irsa` binary: argument parsing and wiring only.

use std::process::ExitCode;

mod cmd;

use clap::{Parser, Subcommand};
use irsa_core::{Clock, SystemClock};
use irsa_server::config::{ConfigErrors, ProcessEnvironment, ServeArgs};
use irsa_server::issuer::IssuerArgs;

// The server allocates many small buffers per request (query decoding,
// XML, JSON claims); mimalloc serves them measurably faster than glibc's
// malloc under load (see the load example in crates/irsa-server/examples).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Self-hosted IAM Roles for Service Accounts and OIDC web-identity federation.
#[derive(Debug, Parser)]
#[command(name = "irsa", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve STS and IAM (AWS Query protocol), health and metrics on one port.
    Serve(ServeCommand),
    /// Kubernetes mutating admission webhook (amazon-eks-pod-identity-webhook compatible).
    Webhook(irsa_webhook::WebhookArgs),
    /// Decode, verify and issue service-account tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// OIDC issuer documents and signing keys.
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Session-token sealing keys in the server's store.
    #[command(subcommand, name = "session-keys")]
    SessionKeys(SessionKeysCommand),
    /// OIDC provider helpers.
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Why does my pod get AccessDenied? Explain AssumeRoleWithWebIdentity step by step.
    Explain(cmd::explain::ExplainArgs),
}

#[derive(Debug, clap::Args)]
struct ServeCommand {
    #[command(flatten)]
    server: ServeArgs,
    #[command(flatten)]
    issuer: IssuerArgs,
    #[command(flatten)]
    tls: irsa_server::tls::TlsArgs,
    #[command(flatten)]
    s3: irsa_server::config::S3Args,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a token's header and claims without verifying it (like jwt.io).
    Decode(cmd::token::DecodeArgs),
    /// Verify a token like STS does (discovery, JWKS, TLS trust) and print each check.
    Verify(cmd::token::VerifyArgs),
    /// Mint a Kubernetes-shaped service-account token with the built-in issuer's key
    /// (offline from the data dir, or from a running server with --endpoint).
    Issue(Box<cmd::keyring::IssueArgs>),
}

#[derive(Debug, Subcommand)]
enum IssuerCommand {
    /// Write discovery and JWKS documents for a cluster's own service-account public keys.
    Keys(cmd::files::KeysArgs),
    /// Serve documents written by `irsa issuer keys` with the right content types.
    Serve(cmd::files::ServeArgs),
    /// Add a new signing key to the built-in issuer (old keys stay published).
    Rotate(cmd::keyring::RotateArgs),
}

#[derive(Debug, Subcommand)]
enum SessionKeysCommand {
    /// Add a new session-token key; running servers start sealing with it
    /// 90 s later (--activate-in), and the keys it replaces keep opening
    /// tokens until every session they sealed has expired.
    Rotate(cmd::keyring::RotateSessionKeyArgs),
    /// List the session-token keys (ids, state and dates; never secrets).
    List(cmd::keyring::StoreArgs),
}

#[derive(Debug, Subcommand)]
enum OidcCommand {
    /// Print the SHA-1 thumbprint IAM expects for an issuer, and the certificate chain.
    Thumbprint(cmd::oidc::ThumbprintArgs),
}

/// Exit status for configuration and startup problems the user must fix.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Webhook(args) => webhook(args),
        Command::Token(command) => token(command),
        Command::Issuer(command) => issuer(command),
        Command::SessionKeys(SessionKeysCommand::Rotate(args)) => finish(
            "irsa session-keys rotate",
            cmd::block_on(cmd::keyring::rotate_session_key(&args)).and_then(|r| r),
        ),
        Command::SessionKeys(SessionKeysCommand::List(args)) => finish(
            "irsa session-keys list",
            cmd::block_on(cmd::keyring::list_session_keys(&args)).and_then(|r| r),
        ),
        Command::Explain(args) => explain(&args),
        Command::Oidc(OidcCommand::Thumbprint(args)) => {
            match cmd::block_on(cmd::oidc::thumbprint(&args)).and_then(|r| r) {
                Ok(report) => {
                    print!("{}", cmd::oidc::render(&report));
                    ExitCode::SUCCESS
                }
                Err(err) => cmd::report("irsa oidc thumbprint", &err),
            }
        }
    }
}

/// Prints `text` on success, or the error with exit status 2.
fn finish(prefix: &str, result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => cmd::report(prefix, &err),
    }
}

fn token(command: TokenCommand) -> ExitCode {
    match command {
        TokenCommand::Decode(args) => finish(
            "irsa token decode",
            cmd::token::decode(&args, SystemClock.unix_seconds()),
        ),
        TokenCommand::Verify(args) => {
            let clock = std::sync::Arc::new(SystemClock);
            match cmd::block_on(cmd::token::verify(&args, clock)).and_then(|r| r) {
                Ok(report) => {
                    print!("{}", report.text);
                    if report.valid {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(err) => cmd::report("irsa token verify", &err),
            }
        }
        TokenCommand::Issue(args) => {
            let printed = args.output.is_none();
            let result = cmd::block_on(cmd::keyring::issue(&args)).and_then(|r| r);
            finish(
                "irsa token issue",
                result.map(|token| {
                    if printed {
                        format!("{token}\n")
                    } else {
                        String::new()
                    }
                }),
            )
        }
    }
}

/// Exit 0 when the role would be assumed, 1 when denied, 2 on errors.
fn explain(args: &cmd::explain::ExplainArgs) -> ExitCode {
    match cmd::block_on(cmd::explain::run(args)).and_then(|r| r) {
        Ok(report) => {
            print!("{}", report.text);
            if report.allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => cmd::report("irsa explain", &err),
    }
}

fn issuer(command: IssuerCommand) -> ExitCode {
    match command {
        IssuerCommand::Keys(args) => finish("irsa issuer keys", cmd::files::keys(&args)),
        IssuerCommand::Serve(args) => {
            let log_guard =
                irsa_server::telemetry::init_logging(irsa_server::config::LogFormat::Pretty);
            let result = cmd::block_on(cmd::files::serve(&args, irsa_server::shutdown_signal()))
                .and_then(|r| r);
            // Queued log lines reach stderr before the closing message.
            drop(log_guard);
            finish("irsa issuer serve", result.map(|()| String::new()))
        }
        IssuerCommand::Rotate(args) => finish(
            "irsa issuer rotate",
            cmd::block_on(cmd::keyring::rotate(&args)).and_then(|r| r),
        ),
    }
}

/// Environment variable that overrides the number of tokio worker threads.
const WORKER_THREADS_ENV: &str = "IRSA_WORKER_THREADS";

/// How many worker threads the runtime gets, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WorkerThreads {
    count: usize,
    source: &'static str,
}

/// `IRSA_WORKER_THREADS` when set, else the CPUs this process may run on.
///
/// `available_parallelism` counts the `sched_getaffinity` mask (taskset,
/// cpusets) capped by the cgroup CPU quota (a pod's `cpu: 1`), so a server
/// confined to one core does not run two workers that fight over it.
fn worker_threads(configured: Option<&str>) -> Result<WorkerThreads, String> {
    if let Some(text) = configured {
        return match text.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(WorkerThreads {
                count,
                source: WORKER_THREADS_ENV,
            }),
            _ => Err(format!(
                "{WORKER_THREADS_ENV}={text:?} is not a positive whole number of threads"
            )),
        };
    }
    Ok(WorkerThreads {
        count: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        source: "available CPUs (affinity and cgroup quota)",
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    let configured = std::env::var(WORKER_THREADS_ENV).ok();
    let workers = worker_threads(configured.as_deref()).map_err(|problem| {
        eprintln!("irsa: {problem}");
        ExitCode::from(EXIT_CONFIG)
    })?;
    tracing::info!(
        worker_threads = workers.count,
        source = workers.source,
        "starting the async runtime"
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.count)
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("irsa: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        })
}

fn webhook(args: irsa_webhook::WebhookArgs) -> ExitCode {
    let log_guard = irsa_server::telemetry::init_logging(irsa_server::config::LogFormat::Pretty);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let outcome = runtime.block_on(irsa_webhook::run(args, irsa_server::shutdown_signal()));
    // Lines logged while the runtime shuts down reach stderr before the
    // closing message.
    drop(runtime);
    drop(log_guard);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("irsa webhook: {err}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn serve(args: &ServeCommand) -> ExitCode {
    // Both flag groups are checked before reporting, so every problem shows at once.
    let server = args.server.validate(&ProcessEnvironment);
    let issuer = args.issuer.validate();
    let tls = args.tls.validate();
    let s3 = args.s3.validate(&ProcessEnvironment);
    let config = match (server, issuer, tls, s3) {
        (Ok(mut config), Ok(issuer), Ok(tls), Ok(s3)) => {
            config.issuer = issuer;
            config.tls = tls;
            config.s3 = s3;
            // The verifier accepts http:// providers only with the same flag.
            config.allow_insecure_issuer = args.issuer.allow_insecure_issuer;
            config.issuer_rotation_period = args.issuer.rotation_period();
            config
        }
        (server, issuer, tls, s3) => {
            let mut problems = server.err().map(|e| e.0).unwrap_or_default();
            problems.extend(issuer.err().unwrap_or_default());
            problems.extend(tls.err().unwrap_or_default());
            problems.extend(s3.err().unwrap_or_default());
            eprint!("irsa serve: {}", ConfigErrors(problems));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let log_guard = irsa_server::telemetry::init_logging(config.log_format);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let outcome = runtime.block_on(irsa_server::run(config, irsa_server::shutdown_signal()));
    // Lines logged while the runtime shuts down reach stderr before the
    // closing message.
    drop(runtime);
    drop(log_guard);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("irsa serve: {err}");
            ExitCode::from(if err.is_startup() { EXIT_CONFIG } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_override_wins_over_the_cpu_count() {
        let chosen = worker_threads(Some("3")).unwrap();
        assert_eq!(chosen.count, 3);
        assert_eq!(chosen.source, WORKER_THREADS_ENV);
    }

    #[test]
    fn worker_threads_default_is_the_usable_cpu_count() {
        let usable = std::thread::available_parallelism().unwrap().get();
        assert_eq!(worker_threads(None).unwrap().count, usable);
    }

    #[test]
    fn worker_threads_rejects_zero_and_garbage() {
        for bad in ["0", "-1", "two", ""] {
            let err = worker_threads(Some(bad)).unwrap_err();
            assert!(err.contains(WORKER_THREADS_ENV), "{err}");
        }
    }
}
