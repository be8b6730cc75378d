//! Rust `log` records to Python `logging` (logger "vario").

use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub(crate) struct PyLogger;

impl log::Log for PyLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => 40,
            log::Level::Warn => 30,
            log::Level::Info => 20,
            log::Level::Debug => 10,
            log::Level::Trace => 5,
        };
        let msg = record.args().to_string();
        // Never let logging take the host down: errors (and panics) inside are dropped.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            Python::attach(|py| {
                let _ = py
                    .import("logging")
                    .and_then(|l| l.call_method1("getLogger", ("vario",)))
                    .and_then(|lg| lg.call_method1("log", (level, msg)));
            })
        }));
    }

    fn flush(&self) {}
}
