//! Vario runtime (placeholder until the runtime issue).
pub use vario_core as core;
