//! cake-sink
