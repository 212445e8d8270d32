//! A loopback HTTP server for tests that answers JSON-RPC (single calls and batches) with a
//! handler per call, or REST paths; it runs until the test process ends.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};

/// What a handler gives back for one request.
pub enum Reply {
    /// HTTP 200 with this JSON body.
    Json(Value),
    /// HTTP 200 with this text body.
    Text(String),
    /// HTTP 404.
    NotFound,
}

/// Starts a server on a free loopback port; `handle(method_or_path, body)` answers each
/// request: for a POST, each JSON-RPC call (`method`, `params`) gets its own `result` (or
/// `error` when the handler answers `{"error": …}`); for a GET, the path. Its URL.
pub fn serve(handle: impl Fn(&str, &Value) -> Reply + Send + 'static) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            if r.read_line(&mut first).unwrap_or(0) == 0 {
                continue;
            }
            let mut length = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
            let reply = if first.starts_with("GET") {
                handle(&path, &Value::Null)
            } else {
                let answer = |call: &Value| {
                    let method = call["method"].as_str().unwrap_or_default();
                    match handle(method, &call["params"]) {
                        Reply::Json(v) if v.get("error").is_some() => {
                            json!({"jsonrpc": "2.0", "id": call["id"], "error": v["error"]})
                        }
                        Reply::Json(v) => json!({"jsonrpc": "2.0", "id": call["id"], "result": v}),
                        Reply::Text(t) => json!({"jsonrpc": "2.0", "id": call["id"], "result": t}),
                        Reply::NotFound => json!({"jsonrpc": "2.0", "id": call["id"],
                            "error": {"code": -32601, "message": "Method not found"}}),
                    }
                };
                let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                Reply::Json(match &req {
                    Value::Array(calls) => Value::Array(calls.iter().map(answer).collect()),
                    call => answer(call),
                })
            };
            let (status, body) = match reply {
                Reply::Json(v) => ("200 OK", v.to_string()),
                Reply::Text(t) => ("200 OK", t),
                Reply::NotFound => ("404 Not Found", "not found".to_string()),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}
