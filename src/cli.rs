//! The command line: global flags and subcommands (clap derive). No logic lives here; each
//! subcommand's arguments are a plain struct that `commands::*` reads.
//!
//! Flags only choose the file, formats and output; everything about the system itself is in the
//! topology file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Inspect the core links of a service system: probe every service, find single points of
/// failure, draw the graph.
#[derive(Debug, Parser)]
#[command(
    name = "linkpatrol",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The topology file (`-` reads standard input).
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        value_name = "FILE",
        default_value = "topology.yaml"
    )]
    pub file: PathBuf,

    /// When to colour diagnostics: `auto` colours only on a terminal and honours `NO_COLOR`.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail (repeat for even more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the topology file and print a summary; every problem is reported with its location.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the topology file (for editors: `linkpatrol schema >
    /// linkpatrol.schema.json`).
    Schema(SchemaArgs),
}

/// `linkpatrol validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {}

/// `linkpatrol schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (`is_terminal`) or is not a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_as_documented() {
        let cli = Cli::try_parse_from(["linkpatrol", "validate"]).unwrap();
        assert_eq!(cli.file, PathBuf::from("topology.yaml"));
        assert_eq!(cli.color, ColorChoice::Auto);
        assert!(!cli.quiet);
        assert_eq!(cli.verbose, 0);
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "linkpatrol",
            "validate",
            "-f",
            "x.yaml",
            "--color",
            "never",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.file, PathBuf::from("x.yaml"));
        assert_eq!(cli.color, ColorChoice::Never);
        assert_eq!(cli.verbose, 2);
    }

    #[test]
    fn quiet_and_verbose_conflict() {
        assert!(Cli::try_parse_from(["linkpatrol", "-q", "-v", "validate"]).is_err());
    }
}
