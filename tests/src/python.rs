//! The official MCP Python SDK, for interop tests: a venv with the `mcp`
//! package (made once, in `target/py-venv`, when it is not there yet; the
//! tests never skip), and a runner for the client scripts in
//! `tests/interop/` that print one JSON line.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use serde_json::Value;

use crate::workspace_root;

/// A Python with the `mcp` package, made once.
///
/// # Panics
/// When the venv cannot be made or `mcp` cannot be installed.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let venv = workspace_root().join("target/py-venv");
            let python = venv.join("bin/python");
            let ready = Command::new(&python)
                .args(["-c", "import mcp.client.streamable_http"])
                .status()
                .is_ok_and(|status| status.success());
            if !ready {
                let made = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .expect("python3");
                assert!(
                    made.success(),
                    "python3 -m venv failed (scripts/test.sh installs python3-venv)"
                );
                let installed = Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "mcp"])
                    .status()
                    .expect("pip");
                assert!(installed.success(), "pip install mcp failed");
            }
            python
        })
        .clone()
}

/// Run `tests/interop/<script>` with `args` and parse the last line it
/// printed as JSON.
///
/// # Panics
/// When the script fails or prints no JSON line.
pub async fn run_script(script: &str, args: &[String]) -> Value {
    let output = tokio::process::Command::new(python())
        .arg(workspace_root().join("tests/interop").join(script))
        .args(args)
        .output()
        .await
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

/// Run `tests/interop/python_features.py COMMAND TRANSPORT TARGET ARGS...`
/// against moat-fs started with `server_args`: over `http` the server is
/// started here and TARGET is its URL; over `stdio` TARGET is the binary,
/// which the script starts with `server_args` appended.
///
/// # Panics
/// When the server or the script fails.
pub async fn run_fs_features(
    command: &str,
    transport: &str,
    server_args: &[&str],
    args: &[String],
) -> Value {
    let server = (transport == "http")
        .then(|| crate::HttpServer::start("moat-fs", server_args, &[]).expect("start moat-fs"));
    let target = server.as_ref().map_or_else(
        || crate::binary("moat-fs").to_string_lossy().into_owned(),
        |server| server.url.clone(),
    );
    let mut all = vec![command.to_string(), transport.to_string(), target];
    all.extend_from_slice(args);
    if server.is_none() {
        all.extend(server_args.iter().map(ToString::to_string));
    }
    run_script("python_features.py", &all).await
}
