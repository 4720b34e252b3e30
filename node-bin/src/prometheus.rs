//! The Prometheus endpoint: a minimal HTTP/1.1 server that answers `GET /metrics` with
//! the text exposition format (version 0.0.4) and anything else with 404.
//!
//! Requests are read up to [`MAX_REQUEST_BYTES`] and for at most [`REQUEST_TIMEOUT`]; the
//! connection is closed after each answer. The page is rendered by the caller's closure
//! at each scrape, so it always shows current values.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Largest request head read.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Longest a client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Renders the metrics page.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Binds `address` and serves scrapes on the current tokio runtime until it stops.
/// Returns the bound address (useful with port 0).
pub async fn serve(address: SocketAddr, render: Render) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let (mut socket, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("prometheus endpoint: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let render = render.clone();
            tokio::spawn(async move {
                let head = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut socket)).await {
                    Ok(Ok(head)) => head,
                    _ => return,
                };
                let response = respond(&head, &render);
                if let Err(e) = socket.write_all(&response).await {
                    tracing::debug!(%peer, "prometheus endpoint: {e}");
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok(bound)
}

async fn read_head(socket: &mut tokio::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
        if head.len() > MAX_REQUEST_BYTES {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request head too large"));
        }
    }
    Ok(head)
}

/// The HTTP response to a request head.
pub fn respond(head: &[u8], render: &Render) -> Vec<u8> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render()),
        ("GET", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found; metrics are at /metrics\n".into()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".into()),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Appends one metric with its HELP and TYPE lines.
pub fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, f64)]) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_metrics_and_404() {
        let render: Render = Arc::new(|| "up 1\n".to_string());
        let ok = String::from_utf8(respond(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &render)).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(ok.contains("Content-Type: text/plain; version=0.0.4"));
        assert!(ok.ends_with("\r\n\r\nup 1\n"));
        let missing = String::from_utf8(respond(b"GET / HTTP/1.1\r\n\r\n", &render)).unwrap();
        assert!(missing.starts_with("HTTP/1.1 404"));
        let post = String::from_utf8(respond(b"POST /metrics HTTP/1.1\r\n\r\n", &render)).unwrap();
        assert!(post.starts_with("HTTP/1.1 405"));
        let garbage = String::from_utf8(respond(&[0xff, 0xfe, b'\n'], &render)).unwrap();
        assert!(garbage.starts_with("HTTP/1.1 405"));
    }

    #[test]
    fn metric_lines() {
        let mut out = String::new();
        metric(
            &mut out,
            "substrate_block_height",
            "gauge",
            "Block height info of the chain",
            &[("status=\"best\",chain=\"westend2\"", 256.0)],
        );
        assert_eq!(
            out,
            "# HELP substrate_block_height Block height info of the chain\n# TYPE substrate_block_height gauge\n\
             substrate_block_height{status=\"best\",chain=\"westend2\"} 256\n"
        );
    }
}
