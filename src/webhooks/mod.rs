//! Webhook definitions.

pub mod presets;
