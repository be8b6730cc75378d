//! [`Surface`]: which language surface a client is driven from, and the `sdk.name` its events
//! carry by default.

use crate::options::Options;

/// The surface a client is used from. Its only effect is the default `sdk.name` of events, so the
/// ingestion side can tell the surfaces apart.
///
/// ```
/// use vario::host::Surface;
/// let mut opts = vario::Options::default();
/// Surface::Python.apply(&mut opts);
/// assert_eq!(opts.sdk_name, "vario-python");
/// // A name the user set is kept.
/// let mut named = vario::Options { sdk_name: "shop-sdk".into(), ..Default::default() };
/// Surface::Python.apply(&mut named);
/// assert_eq!(named.sdk_name, "shop-sdk");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// The Rust crate itself (`vario-rust`, the [`Options`] default).
    Rust,
    /// The C ABI (`vario-c`).
    C,
    /// The Python package (`vario-python`).
    Python,
    /// The Node.js package (`vario-node`).
    Node,
}

impl Surface {
    /// Every surface.
    pub const ALL: &'static [Surface] = &[Surface::Rust, Surface::C, Surface::Python, Surface::Node];

    /// The default `sdk.name` of this surface's events.
    pub const fn sdk_name(self) -> &'static str {
        match self {
            Surface::Rust => "vario-rust",
            Surface::C => "vario-c",
            Surface::Python => "vario-python",
            Surface::Node => "vario-node",
        }
    }

    /// Sets `opts.sdk_name` to this surface's name unless the user changed it from the default.
    /// Options built in Rust cannot tell an explicit `"vario-rust"` from the default, so that name
    /// is replaced too; options parsed from JSON use the exact rule of
    /// [`JsonOptions::into_options_for`](super::JsonOptions::into_options_for) instead.
    pub fn apply(self, opts: &mut Options) {
        if opts.sdk_name == Surface::Rust.sdk_name() {
            opts.sdk_name = self.sdk_name().to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Options::default().sdk_name, Surface::Rust.sdk_name(), "the Options default is the Rust surface");
        let names: Vec<&str> = Surface::ALL.iter().map(|s| s.sdk_name()).collect();
        assert_eq!(names, ["vario-rust", "vario-c", "vario-python", "vario-node"]);
        for s in Surface::ALL {
            let mut o = Options::default();
            s.apply(&mut o);
            assert_eq!(o.sdk_name, s.sdk_name());
        }
    }
}
