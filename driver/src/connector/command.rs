//! External commands (nvme-cli, iscsiadm) behind a trait, so connectors'
//! logic is testable without the tools or the kernel modules.

use std::io;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;

/// Time allowed for one command.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The result of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// The status, for messages.
    pub status: String,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs external commands; replaced in tests.
#[async_trait]
pub trait CommandRunner: Send + Sync {
    /// Runs `program` with `args` and waits for it.
    async fn run(&self, program: &str, args: &[String]) -> io::Result<CommandOutput>;
}

/// Runs commands for real, each with [`COMMAND_TIMEOUT`].
#[derive(Debug, Default)]
pub struct SystemRunner;

#[async_trait]
impl CommandRunner for SystemRunner {
    async fn run(&self, program: &str, args: &[String]) -> io::Result<CommandOutput> {
        let child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("{program} timed out")))??;
        Ok(CommandOutput {
            success: out.status.success(),
            status: out.status.to_string(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}
