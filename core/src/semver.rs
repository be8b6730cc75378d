//! Lenient semantic versions for the `semver_*` operators.
//!
//! Accepted: optional leading `v`/`V`, one to three numeric components without leading zeros
//! (missing ones are 0, so `1.2` is `1.2.0`), an optional `-prerelease` ordered by SemVer 2.0 §11 and
//! an optional `+build` that is ignored. App versions in the wild are often `v2.1` or `17.4`, which a
//! strict parser would reject and silently make every rule false.

use std::cmp::Ordering;

/// A parsed version. Ordering is SemVer precedence (build metadata ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    core: [u64; 3],
    pre: Vec<PreId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PreId {
    Num(u64),
    Alpha(Box<str>),
}

fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

impl Version {
    /// Parses `s`; `None` when it is not a version under the rules above.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let s = match s.split_once('+') {
            Some((head, build)) => {
                if build.is_empty() || !build.split('.').all(valid_ident) {
                    return None;
                }
                head
            }
            None => s,
        };
        let (core_part, pre_part) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut core = [0u64; 3];
        for (n, comp) in core_part.split('.').enumerate() {
            *core.get_mut(n)? = numeric(comp)?;
        }
        let mut pre = Vec::new();
        if let Some(p) = pre_part {
            if p.is_empty() {
                return None;
            }
            for id in p.split('.') {
                if !valid_ident(id) {
                    return None;
                }
                if id.bytes().all(|c| c.is_ascii_digit()) {
                    pre.push(PreId::Num(numeric(id)?));
                } else {
                    pre.push(PreId::Alpha(id.into()));
                }
            }
        }
        Some(Version { core, pre })
    }
}

fn valid_ident(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

impl Ord for PreId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PreId::Num(a), PreId::Num(b)) => a.cmp(b),
            (PreId::Num(_), PreId::Alpha(_)) => Ordering::Less,
            (PreId::Alpha(_), PreId::Num(_)) => Ordering::Greater,
            (PreId::Alpha(a), PreId::Alpha(b)) => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

impl PartialOrd for PreId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn precedence() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("v1.2"), v("1.2.0"));
        assert_eq!(v("1.2.3+build.5"), v("1.2.3"));
        for bad in ["", "1.2.3.4", "01.2.3", "1..2", "1.2.3-", "1.2.3-a..b", "x1", "1.2.3+"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }
}
