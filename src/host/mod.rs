//! # The host layer: what every binding needs besides the client
//!
//! So far: the one JSON definition of the options every surface accepts ([`JsonOptions`],
//! [`parse_options`], [`OPTION_KEYS`]) and the surface's default `sdk.name` ([`Surface`]).

mod options;
mod surface;

pub use options::{DURATION_KEYS, JsonOptions, OPTION_KEYS, parse_options, parse_options_json};
pub use surface::Surface;
