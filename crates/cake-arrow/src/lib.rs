//! cake-arrow
