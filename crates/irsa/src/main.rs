//! The `irsa` binary: argument parsing and wiring only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use irsa_server::config::{ProcessEnvironment, ServeArgs};

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
    Serve(ServeArgs),
}

/// Exit status for configuration and startup problems the user must fix.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
    }
}

fn serve(args: &ServeArgs) -> ExitCode {
    let config = match args.validate(&ProcessEnvironment) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("irsa serve: {errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    irsa_server::telemetry::init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("irsa serve: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(irsa_server::run(config, irsa_server::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("irsa serve: {err}");
            ExitCode::from(if err.is_startup() { EXIT_CONFIG } else { 1 })
        }
    }
}
