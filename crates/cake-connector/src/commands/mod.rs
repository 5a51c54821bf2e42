pub mod catalog;
pub mod check;
pub mod convert;
pub mod pull;
pub mod sandbox;
