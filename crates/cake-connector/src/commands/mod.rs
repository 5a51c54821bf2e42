//! One module per subcommand.

pub mod catalog;
pub mod check;
pub mod config;
pub mod convert;
pub mod demo;
pub mod dryrun;
pub mod platforms;
pub mod pull;
pub mod sandbox;
pub mod status;
pub mod sync;
pub mod verify;
