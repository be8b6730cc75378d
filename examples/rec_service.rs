//! A small recommendation service that links Vario in-process.
//!
//! - `GET /recs?placement=pdp_you_may_also_like&user=u-1&session=s-1&locale=en-GB` decides for
//!   the placement and answers with the params to serve (and the variant, for debugging).
//! - `POST /cart?user=u-1&session=s-1&item=sku-9&placement=pdp_you_may_also_like` tracks an
//!   add-to-cart outcome; Vario attaches the unit's recent assignments.
//!
//! ```sh
//! cargo run --example rec_service -- --port 8090                       # bundled snapshot, local sink
//! cargo run --example rec_service -- --port 8090 --config-url http://127.0.0.1:8088/config \
//!     --ingest-url http://127.0.0.1:8088/ingest                         # against `vario dev-server`
//! cargo run --example rec_service -- --self-test                        # start, call itself, check, exit
//! ```
//!
//! With `--ingest-url`, undeliverable batches go to a disk spool (`--spool DIR`, default
//! `target/vario-demo/rec-service-spool`) and are replayed when the endpoint answers, also after
//! a restart. SIGTERM and SIGINT close the client (what is undelivered is written to the spool)
//! and stop the service: the library installs no signal handler itself, so the host does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test, bench or example: a failed unwrap is a failed run

use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tiny_http::{Method, Response, Server};
use vario::core::Request;
use vario::{Client, ClientBuilder, Expose, Outcome};

fn query(url: &str) -> HashMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn json_response(status: u16, body: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut r = Response::from_string(body.to_string()).with_status_code(status);
    if let Ok(h) = tiny_http::Header::from_bytes("content-type", "application/json") {
        r.add_header(h);
    }
    r
}

/// The request handler: everything the service does with Vario is in here.
fn handle(client: &Client, method: &Method, url: &str) -> (u16, Value) {
    let q = query(url);
    let path = url.split('?').next().unwrap_or("");
    match (method, path) {
        (Method::Get, "/recs") => {
            let Some(placement) = q.get("placement") else {
                return (400, json!({"error": "placement is required"}));
            };
            let mut ctx = Map::new();
            ctx.insert("placement".into(), json!(placement));
            ctx.insert("page_type".into(), json!(q.get("page_type").map_or("pdp", String::as_str)));
            if let Some(l) = q.get("locale") {
                ctx.insert("locale".into(), json!(l));
            }
            let mut req = Request::new(placement).context(&ctx);
            req.user_id = q.get("user").map(String::as_str);
            req.session_id = q.get("session").map(String::as_str);
            // The decision borrows the snapshot: copy out what the response needs, inside the closure.
            let body = client.decide_with(&req, Expose::Now, |d, _| {
                json!({"placement": placement, "params": d.params(), "variant": d.variant(), "reason": d.reason()})
            });
            (200, body)
        }
        (Method::Post, "/cart") => {
            let accepted = client.track(Outcome {
                user_id: q.get("user").cloned(),
                session_id: q.get("session").cloned(),
                event_type: "add_to_cart".into(),
                item_id: q.get("item").cloned(),
                placement: q.get("placement").cloned(),
                ..Outcome::default()
            });
            (if accepted { 202 } else { 503 }, json!({"tracked": accepted}))
        }
        (Method::Get, "/healthz") => (200, serde_json::to_value(client.stats()).unwrap_or(Value::Null)),
        _ => (404, json!({"error": "not found"})),
    }
}

fn serve(client: Arc<Client>, server: Arc<Server>, workers: usize) -> Vec<std::thread::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let (client, server) = (client.clone(), server.clone());
            std::thread::spawn(move || {
                for req in server.incoming_requests() {
                    let (status, body) = handle(&client, req.method(), req.url());
                    let _ = req.respond(json_response(status, &body));
                }
            })
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let self_test = args.iter().any(|a| a == "--self-test");
    let mut b = ClientBuilder::new().default_params(
        "pdp_you_may_also_like",
        json!({"algo": "co_purchase", "limit": 12}).as_object().cloned().unwrap_or_default(),
    );
    b = match arg("--config-url") {
        Some(u) => b.config_url(u),
        None => b.config_path(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/snapshot.json")),
    };
    b = match arg("--ingest-url") {
        Some(u) => {
            b.ingest_url(u).spool_path(arg("--spool").unwrap_or_else(|| "target/vario-demo/rec-service-spool".into()))
        }
        None => b.sink_file("target/vario-demo/rec-service-events.jsonl"),
    };
    std::fs::create_dir_all("target/vario-demo")?;
    let client = Arc::new(b.build()?);
    if let Err(e) = client.wait_for_init(Duration::from_secs(3)) {
        eprintln!("serving caller defaults until config arrives: {e}");
    }
    let port = if self_test { "0".to_owned() } else { arg("--port").unwrap_or_else(|| "8090".into()) };
    let server = Arc::new(Server::http(format!("127.0.0.1:{port}")).map_err(|e| e.to_string())?);
    let addr = server.server_addr().to_ip().ok_or("not an IP address")?;
    println!("rec service on http://{addr}");
    let workers = serve(client.clone(), server.clone(), 2);
    // SIGTERM / SIGINT: close (drains to the spool within 5 s), then stop the workers. The
    // iterator runs on its own thread, so the handler itself only wakes it (async-signal-safe).
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT])?;
    let (c2, s2) = (client.clone(), server.clone());
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            eprintln!("signal {sig}: closing (undelivered events go to the spool)");
            if let Err(e) = c2.close(Duration::from_secs(5)) {
                eprintln!("close: {e}");
            }
            for _ in 0..2 {
                s2.unblock();
            }
        }
    });

    if self_test {
        let http = reqwest::blocking::Client::new();
        let base = format!("http://{addr}");
        let mut variants = HashMap::new();
        for i in 0..200 {
            let r: Value = serde_json::from_str(
                &http
                    .get(format!("{base}/recs?placement=pdp_you_may_also_like&user=u-{i}&session=s-{i}&locale=en-GB"))
                    .send()?
                    .text()?,
            )?;
            let algo = r["params"]["algo"].as_str().ok_or("params.algo missing")?.to_owned();
            *variants.entry((r["variant"].as_str().unwrap_or("-").to_owned(), algo)).or_insert(0) += 1;
            if i % 10 == 0 {
                let status = http.post(format!("{base}/cart?user=u-{i}&session=s-{i}&item=sku-{i}")).send()?.status();
                if status.as_u16() != 202 {
                    return Err(format!("cart returned {status}").into());
                }
            }
        }
        let missing = http.get(format!("{base}/recs")).send()?.status().as_u16();
        println!("variant -> algo served over 200 requests: {variants:?}; /recs without a placement: {missing}");
        client.flush(Duration::from_secs(10))?;
        let s = client.stats();
        println!("events delivered to the local sink: {} ({} outcomes)", s.events_sent, s.outcomes_enqueued);
        if variants.len() < 3 || missing != 400 || s.outcomes_enqueued != 20 || s.events_sent == 0 {
            return Err("self-test failed".into());
        }
        server.unblock();
        server.unblock();
        for w in workers {
            let _ = w.join();
        }
        return Ok(());
    }
    for w in workers {
        let _ = w.join();
    }
    client.close(Duration::from_secs(5))?;
    Ok(())
}
