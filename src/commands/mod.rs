//! One module per subcommand; each turns parsed arguments into output and an [`ExitStatus`].
//!
//! Commands use `anyhow` for failures of the tool itself (exit 3). Invalid input is not an
//! `Err`: the command prints the diagnostics and returns [`ExitStatus::Invalid`] (exit 2).
//! New subcommands load the topology with [`load_or_report`] and follow the same pattern.

pub mod alert;
pub mod analyze;
pub mod demo;
pub mod diff;
pub mod inspect;
pub mod merge;
pub mod probe;
pub mod render;
pub mod schema;
pub mod validate;
pub mod watch;

use std::io::IsTerminal;

use crate::cli::{Cli, Command};
use crate::diag::Diagnostics;
use crate::terminal::{printable, printable_lines};
use crate::topology::load::{self, LoadError, Loaded};

/// How a run ended; `main` maps it to the process exit code (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: everything fine.
    Success,
    /// 1: findings at or above `--fail-on`.
    Findings,
    /// 2: invalid input or usage.
    Invalid,
    /// 3: the tool itself failed.
    Failure,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Findings => 1,
            Self::Invalid => 2,
            Self::Failure => 3,
        }
    }
}

/// Global settings every command reads, resolved once from the flags.
#[derive(Debug, Clone)]
pub struct Context {
    /// `-f/--file`.
    pub file: std::path::PathBuf,
    /// Colour diagnostics on stderr.
    pub color_stderr: bool,
    /// Colour output on stdout.
    pub color_stdout: bool,
    /// `-q`.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
}

impl Context {
    /// Resolves the global flags.
    pub fn from_cli(cli: &Cli) -> Self {
        Self {
            file: cli.file.clone(),
            color_stderr: cli.color.enabled(std::io::stderr().is_terminal()),
            color_stdout: cli.color.enabled(std::io::stdout().is_terminal()),
            quiet: cli.quiet,
            verbose: cli.verbose,
        }
    }

    /// A context for tests: no colour, not quiet.
    pub fn plain(file: impl Into<std::path::PathBuf>) -> Self {
        Self {
            file: file.into(),
            color_stderr: false,
            color_stdout: false,
            quiet: false,
            verbose: 0,
        }
    }
}

/// Runs the chosen subcommand.
pub fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let ctx = Context::from_cli(cli);
    match &cli.command {
        Command::Validate(args) => validate::run(&ctx, args),
        Command::Schema(args) => schema::run(&ctx, args),
        Command::Analyze(args) => analyze::run(&ctx, args),
        Command::Diff(args) => diff::run(&ctx, args),
        Command::Render(args) => render::run(&ctx, args),
        Command::Probe(args) => probe::run(&ctx, args),
        Command::Alert(args) => alert::run(&ctx, args),
        Command::Inspect(args) => inspect::run_cli(&ctx, args),
        Command::Merge(args) => merge::run(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Watch(args) => watch::run_cli(&ctx, args),
    }
}

/// Loads the topology named by `-f` (`-` = stdin). Prints errors, or warnings unless `-q`, to
/// stderr. `None` means the input was invalid or unreadable: return [`ExitStatus::Invalid`].
pub fn load_or_report(ctx: &Context) -> Option<Loaded> {
    let result = if ctx.file.as_os_str() == "-" {
        load::read_stdin().and_then(|bytes| load::load_bytes(&bytes, "<stdin>"))
    } else {
        load::load_file_with_warnings(&ctx.file)
    };
    match result {
        Ok(loaded) => {
            if !ctx.quiet && !loaded.warnings.is_empty() {
                eprint!("{}", render_diagnostics(ctx, &loaded.warnings));
            }
            Some(loaded)
        }
        Err(LoadError::Invalid(diags)) => {
            report_invalid(ctx, &diags);
            None
        }
        Err(e) => {
            eprintln!("error: {}", printable_lines(&e.to_string()));
            None
        }
    }
}

/// Past a handful of one code the rest are counted in one line; `-v` shows every one.
fn render_diagnostics(ctx: &Context, diags: &Diagnostics) -> String {
    if ctx.verbose > 0 {
        diags.render_all(ctx.color_stderr)
    } else {
        diags.render(ctx.color_stderr)
    }
}

fn report_invalid(ctx: &Context, diags: &Diagnostics) {
    eprint!("{}", render_diagnostics(ctx, diags));
    let errors = diags.errors().count();
    eprintln!(
        "error: `{}` is invalid: {}",
        printable(&diags.origin),
        crate::diag::plural(errors, "error")
    );
}
