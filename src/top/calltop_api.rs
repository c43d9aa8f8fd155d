//! The reference server's admin list (`GET /api/sessions`, docs/EVENTS.md
//! "Admin API") as a [`Source`]: one HTTP/1.1 request per poll on a kept-alive
//! connection, the admin token as a bearer token.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::source::{Member, Session, Snapshot, Source, SourceError};
use crate::server::SessionInfo;
use crate::settings::Secret;

/// The largest answer read: a listing of 100,000 participants is about
/// 10 MB; this bounds what a lying server can make us hold.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Where a reference server's admin list and WebSocket endpoint are, from
/// the one URL a person gives (`ws://HOST:PORT/ws` as for the dashboard, or
/// `http://HOST:PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `http://HOST:PORT/api/sessions`.
    pub list: url::Url,
    /// What the dashboard joins: the URL as given if it is a WebSocket
    /// URL, else `ws://HOST:PORT/ws`.
    pub join: String,
}

impl Endpoints {
    pub fn of(server: &str) -> Result<Endpoints, String> {
        let given = url::Url::parse(server)
            .map_err(|e| format!("{server:?} is not a URL ({e}); expected ws://HOST:PORT/ws"))?;
        let (http, ws) = match given.scheme() {
            "ws" | "http" => ("http", "ws"),
            "wss" | "https" => {
                return Err(format!(
                    "{server:?}: calltop top reads the admin API over plain http only \
                     (the reference server has no TLS of its own); run it where the \
                     server's port is reachable, such as on its machine"
                ));
            }
            other => {
                return Err(format!(
                    "{server:?}: a {other}:// URL; expected ws://HOST:PORT/ws or http://HOST:PORT"
                ));
            }
        };
        let host = given
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{server:?} names no host"))?;
        let port = given
            .port_or_known_default()
            .ok_or_else(|| format!("{server:?} names no port"))?;
        let mut list = given.clone();
        // Only the scheme and path differ between these, so neither can fail.
        let _ = list.set_scheme(http);
        list.set_path("/api/sessions");
        list.set_query(None);
        list.set_fragment(None);
        let join = if given.scheme() == ws {
            server.to_owned()
        } else {
            format!("{ws}://{}/ws", authority(host, port))
        };
        Ok(Endpoints { list, join })
    }
}

fn authority(host: &str, port: u16) -> String {
    format!("{host}:{port}")
}

/// The admin list of a reference server.
pub struct CalltopAdmin {
    url: url::Url,
    token: Secret,
    timeout: Duration,
    /// A kept-alive connection, dropped after any failure.
    conn: Option<SendRequest<Empty<Bytes>>>,
}

impl CalltopAdmin {
    pub fn new(endpoints: &Endpoints, token: Secret, timeout: Duration) -> CalltopAdmin {
        CalltopAdmin {
            url: endpoints.list.clone(),
            token,
            timeout,
            conn: None,
        }
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> SourceError {
        SourceError::Unreachable {
            url: self.url.to_string(),
            reason: reason.to_string(),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, SourceError> {
        let host = self.url.host_str().unwrap_or_default();
        let port = self.url.port_or_known_default().unwrap_or(80);
        // A bracketed IPv6 host connects without its brackets.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| self.unreachable(e))?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| self.unreachable(e))?;
        // Drives the connection; ends when the sender is dropped or the peer goes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// One listing, now.
    pub async fn fetch(&mut self) -> Result<Snapshot, SourceError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.fetch_inner()).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err(SourceError::Timeout {
                    url: self.url.to_string(),
                    within: timeout,
                })
            }
        }
    }

    async fn fetch_inner(&mut self) -> Result<Snapshot, SourceError> {
        // Taken out while in use: a poll cut short leaves no half-used connection.
        let reusable = match self.conn.take() {
            Some(mut s) => s.ready().await.is_ok().then_some(s),
            None => None,
        };
        let mut sender = match reusable {
            Some(s) => s,
            None => self.connect().await?,
        };
        let authority = match (self.url.host_str(), self.url.port()) {
            (Some(h), Some(p)) => authority(h, p),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        };
        let request = Request::get(self.url.path())
            .header(header::HOST, authority)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.token.expose()),
            )
            .header(header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| self.unreachable(e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    SourceError::Malformed(format!(
                        "the answer is larger than {} MiB",
                        MAX_BODY_BYTES / (1024 * 1024)
                    ))
                } else {
                    self.unreachable(e)
                }
            })?
            .to_bytes();
        self.conn = Some(sender);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(SourceError::Unauthorized {
                url: self.url.to_string(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(SourceError::Status {
                url: self.url.to_string(),
                status: status.as_u16(),
                body: excerpt(&body),
            });
        }
        decode(&body)
    }
}

impl Source for CalltopAdmin {
    fn poll(&mut self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        Box::pin(self.fetch())
    }

    fn describe(&self) -> String {
        "calltop admin API".to_owned()
    }
}

/// The start of an answer that is not what we asked for, to say what it was.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(160)]);
    let text = text.trim();
    if body.len() > 160 {
        format!("{text}…")
    } else {
        text.to_owned()
    }
}

/// The admin list's JSON (`{"sessions":[{"id","participants":[…]}]}`) as a
/// snapshot; anything else (not JSON, another shape, a time that is not
/// RFC 3339, a session listed twice) is an error that says what was wrong.
pub fn decode(body: &[u8]) -> Result<Snapshot, SourceError> {
    #[derive(serde::Deserialize)]
    struct Body {
        sessions: Vec<SessionInfo>,
    }
    let parsed: Body = serde_json::from_slice(body).map_err(|e| {
        SourceError::Malformed(if e.is_syntax() || e.is_eof() {
            format!("not JSON ({e}); it begins {:?}", excerpt(body))
        } else {
            e.to_string()
        })
    })?;
    let mut sessions = Vec::with_capacity(parsed.sessions.len());
    for s in parsed.sessions {
        let mut members = Vec::with_capacity(s.participants.len());
        for p in s.participants {
            let joined_at = crate::event::parse_rfc3339(&p.joined_at).ok_or_else(|| {
                SourceError::Malformed(format!(
                    "participant {:?} of session {:?}: joined_at {:?} is not an RFC 3339 time",
                    p.user, s.id, p.joined_at
                ))
            })?;
            members.push(Member {
                id: p.user.clone(),
                name: p.user,
                joined_at: Some(joined_at),
                connected: Some(p.connected),
            });
        }
        sessions.push(Session {
            id: s.id,
            description: None,
            members,
        });
    }
    Snapshot::new(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_websocket_url_and_an_http_url_name_the_same_endpoints() {
        let a = Endpoints::of("ws://127.0.0.1:7878/ws").unwrap();
        assert_eq!(a.list.as_str(), "http://127.0.0.1:7878/api/sessions");
        assert_eq!(a.join, "ws://127.0.0.1:7878/ws");
        let b = Endpoints::of("http://127.0.0.1:7878").unwrap();
        assert_eq!(b, a);
        let c = Endpoints::of("http://localhost").unwrap();
        assert_eq!(c.join, "ws://localhost:80/ws");
        for bad in ["127.0.0.1:7878", "ftp://x/", "wss://calls.example.com/ws"] {
            assert!(Endpoints::of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_admin_list_decodes_into_members_with_times_and_connection() {
        let body = br#"{"sessions":[{"id":"b","participants":[{"user":"zed","joined_at":"2026-12-02T07:31:00.000Z","connected":false},{"user":"amy","joined_at":"2026-12-02T07:30:00.000Z","connected":true}]},{"id":"a","participants":[]}]}"#;
        let snap = decode(body).unwrap();
        assert_eq!(snap.sessions()[0].id, "a");
        let b = snap.session("b").unwrap();
        assert_eq!(b.members[0].id, "amy");
        assert_eq!(b.members[1].connected, Some(false));
        assert_eq!(
            b.members[0].joined_at,
            crate::event::parse_rfc3339("2026-12-02T07:30:00Z")
        );
    }

    #[test]
    fn answers_that_are_not_the_list_say_what_they_are() {
        let cases: [(&[u8], &str); 5] = [
            (b"<html>502 Bad Gateway</html>", "not JSON"),
            (br#"{"error":"x"}"#, "missing field `sessions`"),
            (
                br#"{"sessions":[{"id":"a","participants":[{"user":"bo","joined_at":"yesterday","connected":true}]}]}"#,
                "joined_at \"yesterday\" is not an RFC 3339 time",
            ),
            (
                br#"{"sessions":[{"id":"a","participants":[]},{"id":"a","participants":[]}]}"#,
                "listed twice",
            ),
            (b"{\"sessions\":[", "not JSON"),
        ];
        for (body, words) in cases {
            let e = decode(body).unwrap_err().to_string();
            assert!(e.contains(words), "{e}");
        }
    }
}
