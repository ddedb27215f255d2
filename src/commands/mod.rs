//! One module per subcommand: each takes its parsed arguments and does the work (STYLE §1).

pub mod render;
