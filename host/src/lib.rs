//! Weft host.
