pub mod catalog;
pub mod check;
pub mod convert;
pub mod demo;
pub mod pull;
pub mod sandbox;
pub mod sync;
