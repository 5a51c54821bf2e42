//! cake-transport
