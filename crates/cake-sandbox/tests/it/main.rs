//! The integration tests of cake-sandbox, in one test binary: each module was a binary of its own,
//! and one binary links once.

mod common;
mod faults;
mod hostile;
mod reports;
mod semantics;
mod snapshots;
mod soap;
mod wsdl;
