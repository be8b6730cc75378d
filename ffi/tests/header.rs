//! The committed header is exactly what cbindgen generates from the current source.
//! `VARIO_BLESS=1 cargo test -p vario-ffi --test header` rewrites it after an intended change.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use std::path::PathBuf;

#[test]
fn header_has_not_drifted() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml parses");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = crate_dir.join("include/vario.h");
    if std::env::var_os("VARIO_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write ffi/include/vario.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ffi/include/vario.h is out of date with ffi/src; regenerate it with \
         `VARIO_BLESS=1 cargo test -p vario-ffi --test header` and commit the result"
    );
}
