//! The README's one-machine quick start, run as written: the shell lines
//! between `<!-- quickstart:begin -->` and `<!-- quickstart:end -->` go to
//! `bash` (`set -euo pipefail`) with the real `irsa` binary, the `aws` CLI,
//! and then boto3 doing the pod's last step with the same three variables.
//!
//! The only differences from what a reader types:
//! - `irsa` on `PATH` is a symlink to the binary cargo built;
//! - `127.0.0.1:8080` becomes `127.0.0.1:PORT` (a free port) in the
//!   extracted text, and `IRSA_LISTEN` makes `irsa serve` listen there
//!   (the README relies on the default `--listen`); the gateway's
//!   `127.0.0.1:9000` becomes another free port;
//! - the S3 store the README expects on `127.0.0.1:3900` is the Garage
//!   `scripts/test` starts (`IRSA_TEST_S3_UPSTREAM_*`), its key given as the
//!   README says, in `IRSA_S3_UPSTREAM_ACCESS_KEY_ID`/`_SECRET_ACCESS_KEY`;
//!   `demo-bucket` gets a unique suffix, as the store is shared by tests;
//! - the working directory and `HOME` are a fresh temporary directory, so
//!   `./irsa-data`, `./token` and any `~/.aws` land there, and `AWS_*` /
//!   `IRSA_*` variables of the developer's environment are removed;
//! - a trap stops the background server when the script ends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

mod support;

use std::path::Path;

use support::{client_available, ShellSandbox};

const BEGIN: &str = "<!-- quickstart:begin -->";
const END: &str = "<!-- quickstart:end -->";

/// The shell lines of the quick start: the contents of the fenced blocks
/// between the markers.
fn quickstart_lines(readme: &str) -> String {
    let start = readme
        .find(BEGIN)
        .expect("README has the quickstart:begin marker");
    let end = readme
        .find(END)
        .expect("README has the quickstart:end marker");
    assert!(start < end, "quickstart markers out of order");
    let mut in_fence = false;
    let mut out = String::new();
    for line in readme[start + BEGIN.len()..end].lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(!in_fence, "unclosed code fence in the quick start");
    out
}

#[test]
fn extraction_takes_only_fenced_lines_between_the_markers() {
    let readme = "intro\n```sh\nnot this\n```\n<!-- quickstart:begin -->\ntext\n```sh\na \\\n  b\n# c\n```\nmore\n```sh\nd\n```\n<!-- quickstart:end -->\n```sh\ne\n```\n";
    assert_eq!(quickstart_lines(readme), "a \\\n  b\n# c\nd\n");
}

#[test]
fn readme_one_machine_quick_start() {
    if !client_available("aws", &["--version"])
        || !client_available("python3", &["-c", "import boto3"])
        || !client_available("curl", &["--version"])
    {
        return;
    }
    let Some(upstream) = support::s3_upstream() else {
        return;
    };
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let lines = quickstart_lines(&readme);
    for needed in [
        "irsa serve",
        "create-open-id-connect-provider",
        "irsa token issue",
        "assume-role-with-web-identity",
        "aws sts get-caller-identity",
        "--s3-upstream",
        "aws s3 cp",
        "aws s3 ls",
    ] {
        assert!(lines.contains(needed), "quick start lost {needed:?}");
    }

    let sandbox = ShellSandbox::new();

    let port = support::free_port();
    let host = format!("127.0.0.1:{port}");
    let s3_host = format!("127.0.0.1:{}", support::free_port());
    let bucket = format!("demo-bucket-{}", support::unique_suffix());
    let script = format!(
        "set -euo pipefail\n\
         trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n\
         {readme_lines}\n\
         # boto3's web-identity provider, same variables as the aws CLI step.\n\
         python3 -c 'import boto3; print(\"boto3:\", boto3.client(\"sts\").get_caller_identity()[\"Arn\"])'\n\
         aws s3 cp hello.txt s3://{bucket}/again.txt\n\
         python3 -c 'import boto3; print(\"boto3 s3:\", boto3.client(\"s3\").get_object(Bucket=\"{bucket}\", Key=\"again.txt\")[\"Body\"].read().decode().strip())'\n",
        readme_lines = lines
            .replace("127.0.0.1:8080", &host)
            .replace("127.0.0.1:9000", &s3_host)
            .replace("http://127.0.0.1:3900", &upstream.url)
            .replace("demo-bucket", &bucket),
    );

    let mut command = sandbox.bash(&script, 300);
    command
        .env("IRSA_LISTEN", &host)
        .env("IRSA_S3_UPSTREAM_ACCESS_KEY_ID", &upstream.access_key_id)
        .env(
            "IRSA_S3_UPSTREAM_SECRET_ACCESS_KEY",
            &upstream.secret_access_key,
        );
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "quick start failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );

    let prefix = "arn:aws:sts::123456789012:assumed-role/demo/";
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert!(
        lines.contains(&"arn:aws:sts::123456789012:assumed-role/demo/demo"),
        "assume-role-with-web-identity output missing:\n{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(prefix)
            && l.len() > prefix.len()
            && *l != format!("{prefix}demo")),
        "aws sts get-caller-identity did not print the assumed-role ARN:\n{stdout}\n{stderr}"
    );
    assert!(
        lines.iter().any(|l| l
            .strip_prefix("boto3: ")
            .is_some_and(|arn| arn.starts_with(prefix) && arn.len() > prefix.len())),
        "boto3 did not print the assumed-role ARN:\n{stdout}\n{stderr}"
    );
    // The pod's S3 step: the upload is listed, boto3 reads it back, and the
    // delete the role's policy does not allow is AWS's AccessDenied.
    assert!(
        lines.iter().any(|l| l.ends_with(" hello.txt")),
        "aws s3 ls did not list the upload:\n{stdout}\n{stderr}"
    );
    assert!(
        lines.contains(&"boto3 s3: hello from the pod"),
        "boto3 get_object did not read the object back:\n{stdout}\n{stderr}"
    );
    let denied = format!("is not authorized to perform: s3:DeleteObject on resource: \"arn:aws:s3:::{bucket}/hello.txt\" because no identity-based policy allows the s3:DeleteObject action");
    assert!(
        stderr.contains("An error occurred (AccessDenied) when calling the DeleteObject operation: User: arn:aws:sts::123456789012:assumed-role/demo/")
            && stderr.contains(&denied),
        "the denied delete did not give AWS's AccessDenied:\n{stderr}"
    );
    // The token was written the way kubelet writes it.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(sandbox.work.join("token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}
