//! The integration tests of cake-pipeline, in one test binary: each module was a binary of its own,
//! and one binary links once.

mod common;
mod convert;
mod keys;
mod platforms;
mod protocols;
mod pull;
mod sync;
mod window;
