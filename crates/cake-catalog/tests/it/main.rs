//! The integration tests of cake-catalog, in one test binary: each module was a binary of its own,
//! and one binary links once.

mod catalog;
mod plans;
