//! The tool subcommands: `token`, `issuer`, `oidc`. Each returns the exit
//! status it wants; errors the user must fix are printed and exit with 2.

pub mod explain;
pub mod files;
pub mod keyring;
pub mod oidc;
pub mod remote;
pub mod token;

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

/// Exit status for bad input, configuration and startup problems.
pub const EXIT_USAGE: u8 = 2;

/// Prints `err` (with its causes) after `prefix` and returns status 2.
pub fn report(prefix: &str, err: &anyhow::Error) -> ExitCode {
    eprintln!("{prefix}: {err:#}");
    ExitCode::from(EXIT_USAGE)
}

/// A single-threaded runtime: the tools do little concurrent work.
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Reads a token from `FILE` or stdin (`-`) and checks what a token file
/// must look like. Errors name the file.
pub fn read_token(source: &Path) -> anyhow::Result<String> {
    let (name, bytes) = if source == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the token from standard input")?;
        ("<stdin>".to_owned(), buf)
    } else {
        let name = source.display().to_string();
        let bytes = std::fs::read(source).with_context(|| format!("{name}: cannot read"))?;
        (name, bytes)
    };
    check_token_text(&name, &bytes).map(str::to_owned)
}

/// The token in a token file's bytes: one line, optionally ending in `\n`.
pub fn check_token_text<'a>(name: &str, bytes: &'a [u8]) -> anyhow::Result<&'a str> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        bail!("{name}: not a token (the file is not text)");
    };
    if text.trim().is_empty() {
        bail!("{name}: the token file is empty");
    }
    if text.contains('\r') {
        // AWS SDKs read the file verbatim, so a CR breaks the token for them.
        bail!("{name}: the token file has Windows line endings (CRLF); remove the carriage returns (e.g. `dos2unix {name}`)");
    }
    let token = text.trim();
    if token.contains(char::is_whitespace) {
        bail!("{name}: the token file holds more than one line or word; it must contain exactly one JWT");
    }
    irsa_oidc::jwt::decode(token).map_err(|err| anyhow::anyhow!("{name}: {err}"))?;
    Ok(token)
}

/// Writes `contents` to `path` atomically (temporary file in the same
/// directory, then rename) with mode 0600, the way kubelet swaps token files.
pub fn write_private_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?
        .to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

    #[test]
    fn token_file_checks_name_the_file() {
        assert_eq!(
            check_token_text("t", format!("{TOKEN}\n").as_bytes()).unwrap(),
            TOKEN
        );
        let msg = |bytes: &[u8]| check_token_text("tok.jwt", bytes).unwrap_err().to_string();
        assert_eq!(msg(b""), "tok.jwt: the token file is empty");
        assert_eq!(msg(b" \n"), "tok.jwt: the token file is empty");
        assert!(msg(format!("{TOKEN}\r\n").as_bytes())
            .contains("tok.jwt: the token file has Windows line endings"));
        assert!(msg(b"\xff\xfe").starts_with("tok.jwt: not a token"));
        assert!(msg(format!("{TOKEN}\n{TOKEN}\n").as_bytes()).contains("more than one"));
        assert_eq!(
            msg(b"hello world"),
            "tok.jwt: the token file holds more than one line or word; it must contain exactly one JWT"
        );
        assert_eq!(
            msg(b"garbage"),
            "tok.jwt: token is not a JWT: expected 3 dot-separated segments, found 1"
        );
    }

    #[test]
    fn atomic_private_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        write_private_atomically(&path, b"one").unwrap();
        write_private_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let err = write_private_atomically(&dir.path().join("missing/token"), b"x").unwrap_err();
        assert!(
            err.to_string().contains("missing/token: cannot write"),
            "{err}"
        );
    }
}
