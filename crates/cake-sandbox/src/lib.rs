//! cake-sandbox
