//! Test support for Weft: strict platform simulators over real HTTP on loopback, and helpers
//! that set up manifests, data folders and the real components built from `plugins/`.

pub mod fxiaoke;
pub mod harness;
pub mod hugevision;
pub mod lenovo;
pub mod sekorm;
pub mod supercarrier8;
