//! The integration tests of cake-transport, in one test binary: each module was a binary of its own,
//! and one binary links once.

mod common;
mod document;
mod scripted;
