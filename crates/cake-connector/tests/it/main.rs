//! The integration tests of cake-connector, in one test binary: each module was a binary of its own,
//! and one binary links once.

mod bad_input;
mod check;
mod cli;
mod common;
mod convert;
mod crash;
mod dryrun;
mod exit_codes;
mod faults;
mod hostile;
mod logs;
mod mistakes;
mod newcomer;
mod platforms;
mod protocols;
mod pull;
mod sandbox;
mod secrets;
mod signals;
mod status;
mod sync;
mod tables;
mod verify;
mod writers;
