//! A blocking client of the control plane's admin API, shared by the tests, the push probe and
//! the control-plane bench (those include this file by path). Panics on anything unexpected: its
//! callers are tests and benches, where that is a failed run.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::Value;

/// The control plane at `base`, called with the admin `token`.
pub struct Admin {
    /// `http://HOST:PORT`.
    pub base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Admin {
    /// Calls `base` with `token` on every request.
    pub fn new(base: impl Into<String>, token: &str) -> Admin {
        Admin { base: base.into(), token: token.to_owned(), http: reqwest::blocking::Client::new() }
    }

    /// One request with any bearer token: (status, body).
    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b.to_string());
        }
        let resp = r.send().unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    }

    /// One admin request that must succeed: its JSON body (`Null` when it has none).
    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self.call(method, path, &self.token, body);
        assert!((200..300).contains(&status), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}
