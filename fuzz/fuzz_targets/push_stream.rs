//! The push stream (SPEC §9): a `text/event-stream` body as the push thread reads it
//! (`vario::fuzzing::SseReader`), fed in chunks whose sizes the input chooses, each event's data
//! read as a notice. Checks that chunking never changes the events (one byte at a time, the whole
//! body at once, and the input's split agree) and that a notice's rule never panics.
//!
//! Input layout: the first byte is the chunk size (0: one chunk), then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vario::fuzzing::{Notice, SseEvent, SseReader};

fn events(body: &[u8], chunk: usize) -> Vec<SseEvent> {
    let mut r = SseReader::default();
    let mut out = Vec::new();
    for c in body.chunks(chunk.max(1)) {
        r.feed(c, &mut out);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, body)) = data.split_first() else { return };
    let whole = events(body, body.len());
    assert_eq!(events(body, 1), whole, "byte by byte");
    if n > 0 {
        assert_eq!(events(body, usize::from(n)), whole, "chunks of {n}");
    }
    for ev in &whole {
        assert!(ev.data.len() <= 64 << 10, "data is bounded");
        if let Some(notice) = Notice::parse(&ev.data) {
            let _ = notice.is_news(Some("prod"), (Some(3), Some("abc")));
            let _ = notice.is_news(None, (None, None));
        }
    }
});
