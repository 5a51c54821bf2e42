//! The CAKE report catalog.
mod generated;
pub mod model;
pub use generated::REPORTS;
pub use model::*;
