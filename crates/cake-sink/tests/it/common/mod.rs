pub mod lake;
pub mod moto;

pub use lake::Lake;
