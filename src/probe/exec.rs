//! The `exec` check: run a command (argv, never through a shell) and read its exit code the
//! Nagios way: 0 up, 1 degraded, 2 down, 3 unknown. The first line of output (performance data
//! after `|` removed) is the reason.
//!
//! Each run of the command is the leader of its own process group, and the whole group is
//! killed (SIGKILL) when the attempt ends: on a timeout (the probe's future is dropped), and
//! after the command exits, so that a plugin which forks (`sh -c 'sleep 30 & …'`) leaves no
//! process behind, however often a scheduler runs the check. A plugin that needs something to
//! outlive it must start it in a group of its own (`setsid`).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::outcome::{Verdict, excerpt};
use crate::topology::model::{ExecCheck, Text};

/// Bytes of each output stream kept; a plugin that writes more is cut off.
const OUTPUT_CAP: u64 = 64 * 1024;

/// Runs one attempt of an `exec` check. The reason is not yet scrubbed.
pub async fn check(check: &ExecCheck) -> Verdict {
    let Some((program, args)) = check.command.split_first() else {
        return Verdict::unknown("empty command");
    };
    let mut child = match Command::new(program.expose())
        .args(args.iter().map(Text::expose))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Verdict::unknown(format!(
                "cannot run `{}`: {}",
                program.written(),
                super::outcome::describe_error(&e)
            ));
        }
    };
    let group = GroupGuard::new(child.id());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Output is read until the command exits; then what is left of its group is killed, which
    // closes the pipes a backgrounded child kept open, and the reads end.
    let reads = async { tokio::join!(read_capped(stdout), read_capped(stderr)) };
    let wait = async {
        let status = child.wait().await;
        group.kill();
        status
    };
    let ((out, err), status) = tokio::join!(reads, wait);
    drop(group);
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            return Verdict::unknown(format!("waiting for `{}` failed: {e}", program.written()));
        }
    };
    let line = first_line(&out).or_else(|| first_line(&err));
    let with_line = |fallback: String| line.clone().unwrap_or(fallback);
    match status.code() {
        Some(0) => Verdict::up(),
        Some(1) => Verdict::degraded(with_line("exit status 1 (warning)".to_owned())),
        Some(2) => Verdict::down(with_line("exit status 2 (critical)".to_owned())),
        Some(3) => Verdict::unknown(with_line("exit status 3 (unknown)".to_owned())),
        Some(code) => Verdict::unknown(match &line {
            Some(l) => format!("exit status {code}: {l}"),
            None => format!("exit status {code}"),
        }),
        None => Verdict::unknown(format!(
            "`{}` was killed by signal {}",
            program.written(),
            status.signal().unwrap_or(0)
        )),
    }
}

/// Kills the process group led by the command (its pid) when dropped or asked to, once: the
/// group id is not signalled again after the group may have ended and its id been reused.
struct GroupGuard(Option<u32>, std::sync::atomic::AtomicBool);

impl GroupGuard {
    fn new(pid: Option<u32>) -> Self {
        Self(pid, std::sync::atomic::AtomicBool::new(false))
    }

    fn kill(&self) {
        if self.1.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let Some(pid) = self
            .0
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            return;
        };
        // ESRCH (the group is already gone) is the normal case after a clean exit.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn read_capped<R: AsyncRead + Unpin>(stream: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(s) = stream {
        // An error here only shortens the reason; the exit code decides.
        let _ = s.take(OUTPUT_CAP).read_to_end(&mut buf).await;
    }
    buf
}

fn first_line(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let line = excerpt(&text, 200);
    let line = line.split('|').next().unwrap_or("").trim().to_owned();
    (!line.is_empty()).then_some(line)
}
