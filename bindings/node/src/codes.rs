//! The core's code tables ([`vario_core::codes`]) as the facade reads them at load time: it
//! names the numbers the addon writes (reasons, unit types) and every error's `code` and `kind`
//! from these, and the TypeScript unions in `lib/codes.ts` are checked against them
//! (`test/codes.test.js`). Nothing here lists a member by hand.

use napi_derive::napi;
use std::collections::BTreeMap;
use vario_core::ErrorCode;
use vario_core::codes::TABLES;

/// One member of a code table.
#[napi(object)]
pub struct CodeMember {
    /// The stable number (the C enum's value).
    pub code: u32,
    /// The stable name every surface shows.
    pub name: String,
}

/// One code table of the core.
#[napi(object)]
pub struct CodeTable {
    /// The table's name in the core (`Reason`, `FlagReason`, `UnitType`, `ErrorCode`, …).
    pub name: String,
    /// Every member, in the core's order (ascending numbers).
    pub members: Vec<CodeMember>,
}

/// Every code table of the core (`vario_core::codes::TABLES`), in its order.
#[napi(catch_unwind)]
pub fn code_tables() -> Vec<CodeTable> {
    TABLES
        .iter()
        .map(|t| CodeTable {
            name: t.name.into(),
            members: (t.members)().into_iter().map(|(code, name)| CodeMember { code, name: name.into() }).collect(),
        })
        .collect()
}

/// The class (a `VarioError`'s `kind`) of every error code, by code name.
#[napi(catch_unwind)]
pub fn error_kinds() -> BTreeMap<String, String> {
    ErrorCode::ALL.iter().map(|c| (c.as_str().into(), c.class().as_str().into())).collect()
}
