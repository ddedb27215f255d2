//! One module per subcommand: the glue between the CLI arguments and the library stages.
//! Commands use `anyhow` with context; the library modules keep their own error types.

pub mod probe;
