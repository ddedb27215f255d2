//! The `linkpatrol` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use linkpatrol::cli::Cli;
use linkpatrol::commands::{self, ExitStatus};

/// mimalloc instead of glibc's malloc: the analysis threads of a 100,000-service topology made
/// glibc grow its per-thread arenas with tens of thousands of `mprotect` calls, a third of the
/// run's time in the kernel (README, "At scale").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; usage mistakes exit 2 (SPEC §4).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                ExitStatus::Invalid.code()
            } else {
                ExitStatus::Success.code()
            });
        }
    };
    match commands::run(&cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: {}",
                linkpatrol::terminal::printable_lines(&format!("{e:#}"))
            );
            ExitCode::from(ExitStatus::Failure.code())
        }
    }
}

/// A reader that went away (`linkpatrol schema | head`) is not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}
