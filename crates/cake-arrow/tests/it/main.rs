//! The integration tests of cake-arrow, in one test binary: each module was a binary of its own,
//! and one binary links once.

mod common;
mod decoder;
mod extra;
mod fixtures;
mod leaves;
mod mutations;
mod parallel;
mod properties;
