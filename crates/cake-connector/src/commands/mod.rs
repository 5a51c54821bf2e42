pub mod catalog;
pub mod pull;
