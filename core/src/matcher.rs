//! The `matches` operator: a match-only regex per pattern, and the per-snapshot regex budget.
//!
//! `regex::Regex` builds, per pattern, a forward NFA with capture states, a reverse NFA (for the
//! lazy DFA's start search), a one-pass DFA and a backtracker; a small Unicode pattern such as
//! `^user-\w{4,8}$` then costs over 100 KiB compiled and more once its lazy-DFA caches fill
//! (measured: 1,000 such patterns took 238 MiB, see BENCHMARKS.md). Targeting asks only *whether*
//! a pattern matches, so a [`Matcher`] keeps just what that needs, from the same `regex-automata`
//! engines `regex` wraps:
//!
//! - one forward NFA without capture states;
//! - a forward lazy DFA over it, searching for the earliest match, its cache bounded by
//!   [`CACHE_CAPACITY`] per thread;
//! - a PikeVM over the same NFA for what the lazy DFA cannot answer: a pattern that can match
//!   the empty string (whose empty matches must not split a UTF-8 code point), a Unicode word
//!   boundary before a non-ASCII byte, or a cache that keeps overflowing.
//!
//! The answers are those of `regex::Regex::is_match` (same syntax configuration, same engines);
//! only the memory differs. On top, a [`RegexBudget`] bounds what one snapshot may compile.

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::nfa::thompson::pikevm::{Cache as PikeCache, PikeVM};
use regex_automata::nfa::thompson::{self, NFA, WhichCaptures};
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use std::cell::Cell;
use std::panic::{RefUnwindSafe, UnwindSafe};

/// Largest NFA of one pattern (bytes); a larger one is `BAD_REGEX`.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Most `matches` patterns one snapshot compiles; the items past it are `BAD_REGEX`.
pub(crate) const MAX_REGEXES: usize = 5_000;
/// Most bytes of compiled patterns (NFAs) one snapshot holds; the items past it are `BAD_REGEX`.
pub(crate) const MAX_REGEX_BYTES: usize = 64 << 20;
/// Upper bound of one pattern's lazy-DFA cache on one thread. It grows only as states are
/// needed (a small pattern uses a few KiB); a pattern that overflows it is cleared and, after a
/// few clears, answered by the PikeVM.
pub(crate) const CACHE_CAPACITY: usize = 256 << 10;

/// One thread's scratch space for a [`Matcher`]; the PikeVM's is made on first need.
struct Scratch {
    dfa: Option<DfaCache>,
    pike: Option<PikeCache>,
}

type MakeScratch = Box<dyn Fn() -> Scratch + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// A compiled `matches` pattern (see the module doc).
pub(crate) struct Matcher {
    pattern: Box<str>,
    /// `None` when the lazy DFA cannot answer for this pattern (see the module doc).
    dfa: Option<DFA>,
    pike: PikeVM,
    /// Every match starts at the haystack's start (`^…`): searches are anchored, so a miss stops
    /// at the first byte that cannot continue instead of retrying at every later position.
    anchored: Anchored,
    scratch: Pool<Scratch, MakeScratch>,
    bytes: usize,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher").field("pattern", &self.pattern).field("bytes", &self.bytes).finish()
    }
}

impl Matcher {
    /// Compiles `pattern`; the error is the engine's message.
    pub(crate) fn new(pattern: &str) -> Result<Matcher, String> {
        let nfa = thompson::Compiler::new()
            // The `regex` crate's defaults: Unicode, UTF-8 haystacks, nesting limit 250.
            .syntax(syntax::Config::new())
            .configure(
                thompson::Config::new().which_captures(WhichCaptures::None).nfa_size_limit(Some(REGEX_SIZE_LIMIT)),
            )
            .build(pattern)
            .map_err(|e| e.to_string())?;
        let pike = PikeVM::new_from_nfa(nfa.clone()).map_err(|e| e.to_string())?;
        let dfa = if nfa.has_empty() && nfa.is_utf8() { None } else { lazy_dfa(&nfa) };
        let bytes = nfa.memory_usage() + dfa.as_ref().map_or(0, DFA::memory_usage);
        // The PikeVM shares the NFA (reference-counted): nothing more to count.
        let make: MakeScratch = {
            let dfa = dfa.clone();
            Box::new(move || Scratch { dfa: dfa.as_ref().map(DFA::create_cache), pike: None })
        };
        let anchored = if nfa.is_always_start_anchored() { Anchored::Yes } else { Anchored::No };
        Ok(Matcher { pattern: pattern.into(), dfa, pike, anchored, scratch: Pool::new(make), bytes })
    }

    /// Heap bytes of the compiled pattern (not counting the per-thread caches).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the pattern matches anywhere in `haystack` (unanchored, like `Regex::is_match`).
    pub(crate) fn is_match(&self, haystack: &str) -> bool {
        let mut scratch = self.scratch.get();
        if let (Some(dfa), Some(cache)) = (&self.dfa, scratch.dfa.as_mut()) {
            // Without empty matches, a forward search finds a match exactly when one exists;
            // `earliest` stops at the first match state instead of extending it.
            let input = Input::new(haystack).earliest(true).anchored(self.anchored);
            if let Ok(found) = dfa.try_search_fwd(cache, &input) {
                return found.is_some();
            }
            // Gave up (the cache kept overflowing) or quit (a Unicode word boundary next to a
            // non-ASCII byte): the PikeVM answers.
        }
        let pike = &self.pike;
        let cache = scratch.pike.get_or_insert_with(|| pike.create_cache());
        pike.is_match(cache, Input::new(haystack).anchored(self.anchored))
    }
}

/// The forward lazy DFA over `nfa`, or `None` when it cannot be built within the cache bound
/// (the PikeVM then answers every search).
fn lazy_dfa(nfa: &NFA) -> Option<DFA> {
    DFA::builder()
        .configure(
            DFA::config()
                .cache_capacity(CACHE_CAPACITY)
                // `\b` is answered on ASCII haystacks and quits (to the PikeVM) on others.
                .unicode_word_boundary(true)
                // Patterns are compiled once per snapshot: keep the cache small, use byte classes.
                .byte_classes(true),
        )
        .build_from_nfa(nfa.clone())
        .ok()
}

/// What one snapshot's `matches` patterns may cost together: at most [`MAX_REGEXES`] patterns
/// and [`MAX_REGEX_BYTES`] compiled, charged in compile order (experiments, then flags, each in
/// document order). Interior mutability, so the compile passes it down by shared reference.
#[derive(Debug, Default)]
pub(crate) struct RegexBudget {
    count: Cell<usize>,
    bytes: Cell<usize>,
}

impl RegexBudget {
    /// Charges one compiled pattern; an error (the item's lint message) when it does not fit.
    /// A pattern that does not fit is not charged, so a later, smaller one may still fit.
    pub(crate) fn charge(&self, m: &Matcher) -> Result<(), String> {
        let (count, bytes) = (self.count.get() + 1, self.bytes.get().saturating_add(m.bytes()));
        if count > MAX_REGEXES {
            return Err(format!("over the snapshot's budget of {MAX_REGEXES} regexes"));
        }
        if bytes > MAX_REGEX_BYTES {
            return Err(format!(
                "over the snapshot's budget of {} MiB of compiled regexes (this one: {} KiB)",
                MAX_REGEX_BYTES >> 20,
                m.bytes() >> 10
            ));
        }
        self.count.set(count);
        self.bytes.set(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers of `regex::Regex::is_match`, pattern by pattern, on haystacks that exercise
    /// each engine path (lazy DFA, empty matches, word boundaries on non-ASCII text).
    #[test]
    fn answers_like_the_regex_crate() {
        let patterns = [
            r"^user-[0-9a-z]{4,8}$",
            r"^user-\w{4,8}$",
            r"(?i)^USER-[0-9a-zé]{4,8}$",
            r"",
            r"a*",
            r"^$",
            r"\b",
            r"\bé\b",
            r"\Bx",
            r"(?m)^b$",
            r"[[:alpha:]]+\d",
            r"\p{Greek}+",
            r"(?-u:\B)",
            r"colou?r",
            r"(a|ab)(c|bcd)(d*)",
            r"^ab|cd",
            r"(?m)^cd",
            r"^$|x",
        ];
        let haystacks = [
            "",
            "user-ab12",
            "user-ab12cd34e",
            "USER-ÉÉÉÉ",
            "user-éééé",
            "user-ΔΔΔΔ",
            "é",
            " é ",
            "aé",
            "a\nb\nc",
            "xx",
            "abcd",
            "color",
            "αβγ",
            "☃",
            "z9",
            "xcd",
            "ab\ncd",
        ];
        for p in patterns {
            let re = regex::Regex::new(p).expect("valid for regex");
            let m = Matcher::new(p).expect("valid for the matcher");
            for h in haystacks {
                assert_eq!(m.is_match(h), re.is_match(h), "pattern {p:?} on {h:?}");
            }
        }
    }

    #[test]
    fn invalid_and_oversized_patterns_are_refused() {
        for p in [r"^/p/(", r"(a)\1", r"(?=x)", r"\w{1000}{1000}"] {
            assert!(regex::Regex::new(p).is_err(), "{p}");
            assert!(Matcher::new(p).is_err(), "{p}");
        }
    }

    #[test]
    fn the_budget_counts_patterns_and_bytes() {
        let b = RegexBudget::default();
        let small = Matcher::new("^a$").expect("valid");
        for _ in 0..MAX_REGEXES {
            b.charge(&small).expect("within the count");
        }
        assert!(b.charge(&small).unwrap_err().contains("regexes"));
        let b = RegexBudget::default();
        let big = Matcher::new(r"\w{40}").expect("valid");
        let fits = MAX_REGEX_BYTES / big.bytes();
        assert!(fits > 0 && fits < MAX_REGEXES, "{} bytes", big.bytes());
        for _ in 0..fits {
            b.charge(&big).expect("within the bytes");
        }
        assert!(b.charge(&big).unwrap_err().contains("MiB"));
        // Refused patterns are not charged: a small one still fits.
        b.charge(&small).expect("a small pattern still fits");
    }
}
