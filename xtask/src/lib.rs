//! The project automation as a library, for tests elsewhere in the workspace that need the spec
//! loader and its checks (`cake-pipeline`'s corrected specs must load exactly as
//! `cargo xtask codegen` loads the committed ones). The commands are in `main.rs`.

pub mod codegen;
pub mod options;
