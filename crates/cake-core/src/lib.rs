//! What every crate of the CAKE connector shares: the API key and the one scrubber that removes
//! it from text in every encoding ([`secret`]), and text from outside made safe to print
//! ([`text`]).
//!
//! **Invariant: no I/O and no dependency on another crate of the workspace.** Everything here
//! is a pure function of its inputs, so every layer (the catalog, the transport, the decoder,
//! the sink, the jobs and the binary) can use it.
//!
//! ```
//! use cake_core::secret::ApiKey;
//! use cake_core::text::excerpt;
//!
//! let key = ApiKey::new("Zq81-secret-K3y-7788").unwrap();
//! let scrubber = key.scrubber();
//! // Echoed percent-encoded and broken by a line break: both parts are found.
//! let page = "Invalid key Zq81%2Dsecret\r\n-K3y-7788 for this instance";
//! assert_eq!(
//!     scrubber.scrub(page),
//!     "Invalid key <redacted>\r\n<redacted> for this instance"
//! );
//! // Scrubbed, then shortened: a cut never leaves half a key behind.
//! assert_eq!(excerpt(page, Some(&scrubber), 26), "Invalid key <redacted>\\r\\n…");
//! ```

pub mod failure;
pub mod secret;
pub mod text;

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
