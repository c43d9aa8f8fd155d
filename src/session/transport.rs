//! Opening the WebSocket: the only place that knows about TCP, TLS and handshakes.

use std::sync::Once;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a session reads at a time.
const READ_BUFFER: usize = 4096;

/// rustls needs exactly one process-wide crypto provider before the first wss:// connect.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another part of the process installed one first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub(crate) async fn connect(
    url: url::Url,
    subprotocol: Option<&'static str>,
    max_frame_bytes: usize,
) -> Result<Ws, String> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad server URL {url}: {e}"))?;
    if let Some(p) = subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
    }
    // Beyond this, tungstenite ends the connection; smaller oversized frames
    // reach the engine, which reports and drops them without losing the session.
    let hard = max_frame_bytes.saturating_mul(crate::protocol::HARD_FRAME_FACTOR);
    // Sized for signaling: frames are small and rare. tungstenite's 128 KiB
    // read buffer, allocated (and zero-filled) per connection, is most of
    // what a session would otherwise cost; a larger frame still arrives, the
    // buffer grows for it. Writes go out at once, each frame on its own.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(hard)
        .max_message_size(Some(hard))
        .max_frame_size(Some(hard));
    let (ws, _response) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .map_err(|e| describe(&url, e))?;
    Ok(ws)
}

fn describe(url: &url::Url, e: tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    let host = match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.to_string(),
    };
    match e {
        Error::Io(io) => format!("cannot reach {host}: {io}"),
        Error::Http(resp) => format!(
            "{host} answered HTTP {} instead of a WebSocket upgrade",
            resp.status()
        ),
        other => format!("WebSocket handshake with {host} failed: {other}"),
    }
}
