//! A Janus server's VideoRoom rooms as a [`Source`], over Janus's public
//! WebSocket API: one Janus session with a VideoRoom handle, kept open
//! between polls, then per poll `list` (with the room `admin_key`, which
//! private rooms need to be listed at all) and every room's
//! `listparticipants`, sent together and matched by transaction.
//!
//! The public API says neither when someone joined nor whether their socket
//! is up; where the Admin API is given (`[top].janus_admin_url`), each
//! participant's handle tells when it was created, which is when they
//! joined, within a request's time.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::source::{Member, Session, Snapshot, Source, SourceError};
use crate::settings::Secret;

const PLUGIN: &str = "janus.plugin.videoroom";
const ADMIN_SUBPROTOCOL: &str = "janus-admin-protocol";
/// The largest frame read: the list of all rooms is one frame (about 600
/// bytes a room), so as large as the admin list's bound.
const MAX_FRAME_BYTES: usize = super::calltop_api::MAX_BODY_BYTES;

/// What the Janus source needs besides the URL.
#[derive(Debug, Clone, Default)]
pub struct JanusAccess {
    /// Janus's `api_secret`, on every request.
    pub api_secret: Option<Secret>,
    /// Janus's `token` (token_auth), on every request.
    pub token: Option<Secret>,
    /// The VideoRoom `admin_key`: private rooms are listed only with it.
    pub admin_key: Option<Secret>,
    /// The Admin API (`ws://HOST:7188`) and its `admin_secret`, for join times.
    pub admin: Option<(String, Secret)>,
}

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket to Janus, which refuses the upgrade without its subprotocol.
async fn connect(url: &str, subprotocol: &'static str) -> Result<Ws, String> {
    crate::session::install_crypto_provider();
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("bad URL {url}: {e}"))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(subprotocol),
    );
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

struct Conn {
    ws: Ws,
    session: u64,
    handle: u64,
}

/// The rooms of one Janus server.
pub struct JanusRooms {
    url: String,
    access: JanusAccess,
    timeout: Duration,
    conn: Option<Conn>,
    next_tx: u64,
}

impl JanusRooms {
    pub fn new(url: &str, access: JanusAccess, timeout: Duration) -> JanusRooms {
        JanusRooms {
            url: url.to_owned(),
            access,
            timeout,
            conn: None,
            next_tx: 0,
        }
    }

    /// One listing, now.
    pub async fn fetch(&mut self) -> Result<Snapshot, SourceError> {
        let timeout = self.timeout;
        let url = self.url.clone();
        match tokio::time::timeout(timeout, self.fetch_inner()).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err(SourceError::Timeout {
                    url,
                    within: timeout,
                })
            }
        }
    }

    async fn fetch_inner(&mut self) -> Result<Snapshot, SourceError> {
        // A Janus session that timed out (polls further apart than its
        // session_timeout) is made again, once.
        let conn = match self.conn.take() {
            Some(c) => c,
            None => self.open().await?,
        };
        let mut conn = conn;
        let rooms = match self.rooms(&mut conn).await {
            Err(SourceError::Janus { code: 458, .. }) => {
                conn = self.open().await?;
                self.rooms(&mut conn).await?
            }
            other => other?,
        };
        self.conn = Some(conn);
        if let Some((url, secret)) = self.access.admin.clone() {
            let joined = self.join_times(&url, &secret).await?;
            return with_join_times(rooms, &joined);
        }
        Snapshot::new(rooms)
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> SourceError {
        SourceError::Unreachable {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    fn tx(&mut self) -> String {
        self.next_tx += 1;
        format!("top-{}", self.next_tx)
    }

    /// `body` with a fresh transaction and the secrets every request carries.
    fn request(&mut self, mut body: Value) -> (String, Value) {
        let tx = self.tx();
        body["transaction"] = json!(tx);
        if let Some(s) = &self.access.api_secret {
            body["apisecret"] = json!(s.expose());
        }
        if let Some(t) = &self.access.token {
            body["token"] = json!(t.expose());
        }
        (tx, body)
    }

    async fn open(&mut self) -> Result<Conn, SourceError> {
        let mut ws = connect(&self.url, crate::backend::janus::SUBPROTOCOL)
            .await
            .map_err(|e| self.unreachable(e))?;
        let (tx, body) = self.request(json!({"janus": "create"}));
        let created = self
            .one(&mut ws, &tx, body, "create a Janus session")
            .await?;
        let session = data_id(&created).ok_or_else(|| malformed("create", &created))?;
        let (tx, body) =
            self.request(json!({"janus": "attach", "plugin": PLUGIN, "session_id": session}));
        let attached = self
            .one(&mut ws, &tx, body, "attach the VideoRoom plugin")
            .await?;
        let handle = data_id(&attached).ok_or_else(|| malformed("attach", &attached))?;
        Ok(Conn {
            ws,
            session,
            handle,
        })
    }

    /// Sends `body` and waits for its answer.
    async fn one(
        &mut self,
        ws: &mut Ws,
        tx: &str,
        body: Value,
        what: &str,
    ) -> Result<Value, SourceError> {
        let mut got = self.many(ws, vec![(tx.to_owned(), body)]).await?;
        let v = got.remove(tx).unwrap_or(Value::Null);
        check(&v, what)?;
        Ok(v)
    }

    /// Sends every request, then reads until each has its answer.
    async fn many(
        &mut self,
        ws: &mut Ws,
        requests: Vec<(String, Value)>,
    ) -> Result<HashMap<String, Value>, SourceError> {
        let mut waiting: HashMap<String, ()> = HashMap::with_capacity(requests.len());
        for (tx, body) in requests {
            waiting.insert(tx, ());
            ws.feed(Message::text(body.to_string()))
                .await
                .map_err(|e| self.unreachable(e))?;
        }
        ws.flush().await.map_err(|e| self.unreachable(e))?;
        let mut answers = HashMap::with_capacity(waiting.len());
        while !waiting.is_empty() {
            let text = match ws.next().await {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(_))) | None => {
                    return Err(self.unreachable("Janus closed the connection"));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(self.unreachable(e)),
            };
            let v: Value = serde_json::from_str(text.as_str()).map_err(|e| {
                SourceError::Malformed(format!("Janus sent a frame that is not JSON: {e}"))
            })?;
            // Acks come before an answer; events for our session are not ours to read.
            if v["janus"] == "ack" {
                continue;
            }
            let Some(tx) = v["transaction"].as_str() else {
                continue;
            };
            if waiting.remove(tx).is_some() {
                answers.insert(tx.to_owned(), v);
            }
        }
        Ok(answers)
    }

    fn message(&mut self, conn: &Conn, body: Value) -> (String, Value) {
        self.request(json!({
            "janus": "message",
            "session_id": conn.session,
            "handle_id": conn.handle,
            "body": body,
        }))
    }

    async fn rooms(&mut self, conn: &mut Conn) -> Result<Vec<Session>, SourceError> {
        let mut list = json!({"request": "list"});
        if let Some(k) = &self.access.admin_key {
            list["admin_key"] = json!(k.expose());
        }
        let (tx, body) = self.message(conn, list);
        let answer = self.one(&mut conn.ws, &tx, body, "the room list").await?;
        let data = plugin_data(&answer).ok_or_else(|| malformed("list", &answer))?;
        let rooms = data["list"]
            .as_array()
            .ok_or_else(|| malformed("list", &answer))?;
        let mut sessions = Vec::with_capacity(rooms.len());
        let mut requests = Vec::with_capacity(rooms.len());
        for room in rooms {
            let id = &room["room"];
            let text = id_text(id).ok_or_else(|| malformed("list", room))?;
            let description = room["description"].as_str().map(str::to_owned);
            let (tx, body) = self.message(conn, json!({"request": "listparticipants", "room": id}));
            requests.push((tx.clone(), body));
            sessions.push((
                tx,
                Session {
                    id: text,
                    description,
                    members: Vec::new(),
                },
            ));
        }
        let mut answers = self.many(&mut conn.ws, requests).await?;
        let mut out = Vec::with_capacity(sessions.len());
        for (tx, mut session) in sessions {
            let answer = answers.remove(&tx).unwrap_or(Value::Null);
            // A room destroyed between the list and this: gone, not an error.
            if plugin_error(&answer).is_some_and(|(code, _)| code == 426) {
                continue;
            }
            check(&answer, &format!("the participants of room {}", session.id))?;
            let data =
                plugin_data(&answer).ok_or_else(|| malformed("listparticipants", &answer))?;
            let list = data["participants"]
                .as_array()
                .ok_or_else(|| malformed("listparticipants", &answer))?;
            for p in list {
                let id = id_text(&p["id"]).ok_or_else(|| malformed("listparticipants", p))?;
                session.members.push(Member {
                    id,
                    name: p["display"].as_str().unwrap_or_default().to_owned(),
                    joined_at: None,
                    connected: None,
                });
            }
            out.push(session);
        }
        Ok(out)
    }

    /// When each participant joined, by (room, participant id), from the
    /// Admin API: every Janus session's handles, and each handle's info.
    async fn join_times(
        &mut self,
        url: &str,
        secret: &Secret,
    ) -> Result<HashMap<(String, String), SystemTime>, SourceError> {
        let mut ws =
            connect(url, ADMIN_SUBPROTOCOL)
                .await
                .map_err(|e| SourceError::Unreachable {
                    url: url.to_owned(),
                    reason: e,
                })?;
        let admin = |body: Value, this: &mut JanusRooms| {
            let tx = this.tx();
            let mut body = body;
            body["transaction"] = json!(tx);
            body["admin_secret"] = json!(secret.expose());
            (tx, body)
        };
        let (tx, body) = admin(json!({"janus": "list_sessions"}), self);
        let mut got = self.many(&mut ws, vec![(tx.clone(), body)]).await?;
        let listed = got.remove(&tx).unwrap_or(Value::Null);
        check_admin(&listed, "list_sessions")?;
        let sessions: Vec<u64> = listed["sessions"]
            .as_array()
            .ok_or_else(|| malformed("list_sessions", &listed))?
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        let mut requests = Vec::new();
        for s in &sessions {
            requests.push(admin(
                json!({"janus": "list_handles", "session_id": s}),
                self,
            ));
        }
        let handles = self.many(&mut ws, requests.clone()).await?;
        let mut infos = Vec::new();
        for ((tx, _), s) in requests.iter().zip(&sessions) {
            // A session gone since list_sessions has no handles to ask about.
            let Some(list) = handles.get(tx).and_then(|v| v["handles"].as_array()) else {
                continue;
            };
            for h in list.iter().filter_map(Value::as_u64) {
                infos.push(admin(
                    json!({"janus": "handle_info", "session_id": s, "handle_id": h, "plugin_only": true}),
                    self,
                ));
            }
        }
        let now = SystemTime::now();
        let answers = self.many(&mut ws, infos).await?;
        let _ = ws.close(None).await;
        let mut out = HashMap::new();
        for v in answers.values() {
            let info = &v["info"];
            let ps = &info["plugin_specific"];
            if info["plugin"] != PLUGIN || ps["type"] != "publisher" {
                continue;
            }
            let (Some(room), Some(id), Some(created), Some(current)) = (
                id_text(&ps["room"]),
                id_text(&ps["id"]),
                info["created"].as_u64(),
                info["current_time"].as_u64(),
            ) else {
                continue;
            };
            // Both are Janus's monotonic clock in microseconds.
            let age = Duration::from_micros(current.saturating_sub(created));
            out.insert((room, id), now.checked_sub(age).unwrap_or(now));
        }
        Ok(out)
    }
}

fn with_join_times(
    mut rooms: Vec<Session>,
    joined: &HashMap<(String, String), SystemTime>,
) -> Result<Snapshot, SourceError> {
    for room in &mut rooms {
        for m in &mut room.members {
            m.joined_at = joined.get(&(room.id.clone(), m.id.clone())).copied();
        }
    }
    Snapshot::new(rooms)
}

impl Source for JanusRooms {
    fn poll(&mut self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        Box::pin(self.fetch())
    }

    fn describe(&self) -> String {
        if self.access.admin.is_some() {
            "Janus VideoRoom list + Admin API".to_owned()
        } else {
            "Janus VideoRoom list".to_owned()
        }
    }
}

fn data_id(v: &Value) -> Option<u64> {
    v["data"]["id"].as_u64()
}

fn plugin_data(v: &Value) -> Option<&Value> {
    let d = &v["plugindata"]["data"];
    d.is_object().then_some(d)
}

/// A room or participant id: a number, or a string on `string_ids` servers.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn core_error(v: &Value) -> Option<(i64, String)> {
    (v["janus"] == "error").then(|| {
        (
            v["error"]["code"].as_i64().unwrap_or(0),
            v["error"]["reason"].as_str().unwrap_or_default().to_owned(),
        )
    })
}

fn plugin_error(v: &Value) -> Option<(i64, String)> {
    let d = plugin_data(v)?;
    let code = d["error_code"].as_i64()?;
    Some((code, d["error"].as_str().unwrap_or_default().to_owned()))
}

/// What to change for a Janus refusal, where we know.
fn hint(code: i64) -> &'static str {
    match code {
        403 => ": give Janus's api_secret ([janus].api_secret) or token ([session].token)",
        405 => ": the token does not allow the VideoRoom plugin",
        460 => ": this Janus has no VideoRoom plugin",
        _ => "",
    }
}

fn check(v: &Value, what: &str) -> Result<(), SourceError> {
    if v.is_null() {
        return Err(SourceError::Malformed(format!("no answer to {what}")));
    }
    if let Some((code, reason)) = core_error(v).or_else(|| plugin_error(v)) {
        return Err(SourceError::Janus {
            what: what.to_owned(),
            code,
            reason,
            hint: hint(code).to_owned(),
        });
    }
    Ok(())
}

fn check_admin(v: &Value, what: &str) -> Result<(), SourceError> {
    match core_error(v) {
        Some((code, reason)) => Err(SourceError::Janus {
            what: format!("the Admin API's {what}"),
            code,
            reason,
            hint: if code == 403 {
                ": give the Admin API's admin_secret ([top].janus_admin_secret)".to_owned()
            } else {
                String::new()
            },
        }),
        None => Ok(()),
    }
}

fn malformed(what: &str, v: &Value) -> SourceError {
    let text = v.to_string();
    let cut: String = text.chars().take(160).collect();
    SourceError::Malformed(format!(
        "Janus's answer to {what} is not as documented: {cut}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbers_or_strings_and_errors_name_the_code() {
        assert_eq!(id_text(&json!(1234)).as_deref(), Some("1234"));
        assert_eq!(id_text(&json!("standup")).as_deref(), Some("standup"));
        assert_eq!(id_text(&json!("")), None);
        assert_eq!(id_text(&json!(null)), None);
        // As Janus 1.1.2 sends them (transcripts 01 and 10).
        let core = json!({"janus":"error","transaction":"t","error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}});
        let e = check(&core, "create a Janus session")
            .unwrap_err()
            .to_string();
        assert!(e.contains("error 403") && e.contains("api_secret"), "{e}");
        let plugin = json!({"janus":"success","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":426,"error":"No such room (9)"}}});
        assert_eq!(
            plugin_error(&plugin),
            Some((426, "No such room (9)".into()))
        );
    }
}
