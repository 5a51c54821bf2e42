//! The integration tests of cake-sink, in one test binary: each module was a binary of its own,
//! and one binary links once.

mod common;
mod conformance;
mod delta;
mod encoder_thread;
mod ownership;
mod parquet_file;
