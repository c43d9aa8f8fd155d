//! Janus's VideoRoom plugin over Janus's WebSocket JSON API, as a participant
//! without media.
//!
//! Janus needs several round trips before we are "joined" (`create` a Janus
//! session, `attach` the plugin, `join` the room, `listparticipants` for the
//! roster), answers by transaction in any order (a `join` gets an `ack` and an
//! `event`, either first), never closes the socket to say we were removed,
//! and replays nothing missed while we were away. All of that stays in here:
//! the engine sees the same [`ServerMsg`]s as from calltop's own protocol.
//!
//! Facts this follows were checked against Janus 1.1.2; see the README's
//! Janus section for how each Janus message maps to an event.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Backend, BackendKind, ClientMsg, Decoded, Member, ProtocolError, ServerMsg, excerpt};
use crate::event::ServerFacts;
use crate::settings::{Secret, SessionSettings};

/// The WebSocket subprotocol Janus insists on (without it the upgrade fails).
pub const SUBPROTOCOL: &str = "janus-protocol";
const PLUGIN: &str = "janus.plugin.videoroom";

/// Janus core error codes we act on.
mod code {
    pub const UNAUTHORIZED: i64 = 403;
    pub const UNAUTHORIZED_PLUGIN: i64 = 405;
    pub const SESSION_NOT_FOUND: i64 = 458;
    pub const HANDLE_NOT_FOUND: i64 = 459;
    pub const PLUGIN_NOT_FOUND: i64 = 460;
}

/// VideoRoom plugin error codes we act on.
mod vr {
    pub const NO_SUCH_ROOM: i64 = 426;
    pub const ROOM_EXISTS: i64 = 427;
    pub const MISSING_ELEMENT: i64 = 429;
    pub const INVALID_ELEMENT: i64 = 430;
    pub const PUBLISHERS_FULL: i64 = 432;
    pub const UNAUTHORIZED: i64 = 433;
    pub const ID_EXISTS: i64 = 436;
}

/// What a transaction we sent was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Info,
    Create,
    Attach,
    CreateRoom,
    /// `reused`: with the participant id we had before a drop, which Janus
    /// refuses while the old one is still in the room.
    Join {
        reused: bool,
    },
    List(ListFor),
    Keepalive(u64),
    Claim,
    Leave,
    Destroy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListFor {
    /// The roster at a first join (or a full rejoin).
    Join,
    /// After a `claim`: what happened while we were away.
    Claim,
    /// A heartbeat's resync, in rooms that do not announce joins.
    Poll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No transport, or one on which we have not asked to join.
    Idle,
    /// Creating, claiming, attaching, joining.
    Handshake,
    /// In the room (or back in our claimed session), the roster on its way
    /// (which list it is, `ListFor`, says whether we were claimed back).
    /// Room events wait until the roster is in.
    Listing,
    Joined,
    Leaving,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ids {
    session: u64,
    /// Zero until `attach` answers.
    handle: u64,
}

/// Where the room was created from, when we create it if it is missing.
#[derive(Debug, Clone)]
struct RoomCreation {
    secret: Option<Secret>,
    admin_key: Option<Secret>,
}

/// A [`Backend`] for a Janus server's VideoRoom plugin: joins the room named
/// by the session id as a participant without media, our user name as the
/// display name.
pub struct JanusBackend {
    /// The room id as Janus wants it: a number, unless it is not one (or the
    /// server said it wants strings: `string_ids`).
    room: Value,
    display: String,
    token: Option<Secret>,
    api_secret: Option<Secret>,
    pin: Option<Secret>,
    create: Option<RoomCreation>,
    fixed_id: Option<u64>,
    heartbeat_interval: Duration,

    /// The Janus session and handle of the attempt under way (or of the
    /// session we are in).
    ids: Option<Ids>,
    /// The session that last got us into the room: the only one a `claim`
    /// after a drop asks for (a half-built one never held our seat).
    joined: Option<Ids>,
    /// Our participant id, kept across a drop so a full rejoin can ask for it again.
    own_id: Option<Value>,
    /// This attempt follows a join we had: the room is not created again
    /// (an administrator may have destroyed it), and its absence means the
    /// session was ended.
    rejoining: bool,
    /// Whether the room announces joins (`notify_joining`); if not, each
    /// heartbeat also fetches the roster.
    announces_joins: bool,
    facts: ServerFacts,
    /// The heartbeat-versus-session-timeout warning goes out once, not on
    /// every reconnect.
    warned_timeout: bool,
    stage: Stage,
    /// Room events that came while the roster was on its way.
    early: Vec<Value>,
    pending: HashMap<String, Request>,
    next_tx: u64,
}

impl std::fmt::Debug for JanusBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JanusBackend")
            .field("room", &self.room)
            .field("stage", &self.stage)
            .field("ids", &self.ids)
            .field("joined", &self.joined)
            .finish_non_exhaustive()
    }
}

/// The room id as Janus wants it: a number when the session is one written
/// the usual way (`4001`, not `007` or `+7`), else a string.
fn room_id(session: &str) -> Value {
    match session.parse::<u64>() {
        Ok(n) if n.to_string() == session => Value::from(n),
        _ => Value::from(session),
    }
}

impl JanusBackend {
    /// The backend for these settings: the room (the session id, as a number
    /// when it is one), the display name, the token and the Janus options.
    pub fn new(settings: &SessionSettings) -> JanusBackend {
        let j = &settings.janus;
        JanusBackend {
            room: room_id(&settings.session),
            display: settings.user.clone(),
            token: settings.token.clone(),
            api_secret: j.api_secret.clone(),
            pin: j.pin.clone(),
            create: j.create_room.then(|| RoomCreation {
                secret: j.room_secret.clone(),
                admin_key: j.admin_key.clone(),
            }),
            fixed_id: j.participant_id,
            heartbeat_interval: settings.heartbeat_interval,
            ids: None,
            joined: None,
            own_id: j.participant_id.map(Value::from),
            rejoining: false,
            announces_joins: true,
            facts: ServerFacts::default(),
            warned_timeout: false,
            stage: Stage::Idle,
            early: Vec::new(),
            pending: HashMap::new(),
            next_tx: 0,
        }
    }

    /// One request: the envelope every Janus request needs (transaction,
    /// session, credentials) around `fields`.
    fn request(
        &mut self,
        out: &mut Vec<String>,
        janus: &'static str,
        what: Request,
        mut fields: Map<String, Value>,
    ) {
        self.next_tx += 1;
        let tx = format!("calltop-{}", self.next_tx);
        fields.insert("janus".into(), janus.into());
        fields.insert("transaction".into(), tx.clone().into());
        if let Some(ids) = self.ids
            && !fields.contains_key("session_id")
            && !matches!(what, Request::Info | Request::Create)
        {
            fields.insert("session_id".into(), ids.session.into());
        }
        // Janus checks credentials on every request, not once per socket.
        if let Some(s) = &self.api_secret {
            fields.insert("apisecret".into(), s.expose().into());
        }
        if let Some(t) = &self.token {
            fields.insert("token".into(), t.expose().into());
        }
        self.pending.insert(tx, what);
        out.push(Value::Object(fields).to_string());
    }

    /// A request to the VideoRoom plugin on our handle.
    fn message(&mut self, out: &mut Vec<String>, what: Request, body: Value) {
        let handle = self.ids.map(|i| i.handle).unwrap_or_default();
        let fields = obj(json!({ "handle_id": handle, "body": body }));
        self.request(out, "message", what, fields);
    }

    fn create_session(&mut self, out: &mut Vec<String>) {
        self.ids = None;
        self.stage = Stage::Handshake;
        self.request(out, "create", Request::Create, Map::new());
    }

    fn join(&mut self, out: &mut Vec<String>) {
        let mut body = obj(json!({
            "request": "join",
            "ptype": "publisher",
            "room": self.room,
            "display": self.display,
        }));
        if let Some(pin) = &self.pin {
            body.insert("pin".into(), pin.expose().into());
        }
        let reused = self.own_id.is_some() && self.fixed_id.is_none();
        if let Some(id) = &self.own_id {
            body.insert("id".into(), id.clone());
        }
        self.message(out, Request::Join { reused }, Value::Object(body));
    }

    fn list(&mut self, out: &mut Vec<String>, why: ListFor) {
        let body = json!({ "request": "listparticipants", "room": self.room });
        self.message(out, Request::List(why), body);
    }

    /// Ends our Janus session ourselves: Janus never closes the socket to say
    /// we are out, and would otherwise keep the session until it times out.
    fn destroy(&mut self, out: &mut Vec<String>) {
        if self.ids.is_some() {
            self.request(out, "destroy", Request::Destroy, Map::new());
        }
        self.ids = None;
        self.joined = None;
    }

    /// We are out of the room for good (removed, ended): end our Janus
    /// session and say so.
    fn out_of_room(&mut self, msg: ServerMsg, out: &mut Decoded) {
        self.destroy(&mut out.replies);
        self.stage = Stage::Idle;
        self.early.clear();
        out.msgs.push(msg);
    }

    /// Janus forgot our session (or our handle): a loss, and nothing left
    /// to claim.
    fn session_gone(&mut self, reason: &str, out: &mut Decoded) {
        self.ids = None;
        self.joined = None;
        self.early.clear();
        out.msgs.push(ServerMsg::SessionLost {
            reason: reason.into(),
        });
    }

    fn own_id_text(&self) -> Option<String> {
        self.own_id.as_ref().and_then(id_text)
    }

    fn on_response(
        &mut self,
        what: Request,
        janus: &str,
        v: &Value,
        out: &mut Decoded,
    ) -> Result<(), ProtocolError> {
        if janus == "ack" {
            if let Request::Keepalive(seq) = what {
                out.msgs.push(ServerMsg::Pong { seq });
            } else {
                // The answer is the event with this transaction, before or after.
                self.pending.insert(tx_of(v), what);
            }
            return Ok(());
        }
        let failure = core_error(v);
        let data = plugin_data(v);
        let plugin_failure = data.and_then(plugin_error);
        match what {
            Request::Info => {
                if janus == "server_info" {
                    self.on_server_info(v, out);
                }
            }
            Request::Create => match failure {
                Some(e) => out.msgs.push(refusal("creating a Janus session", e)),
                None => {
                    let session = data_id(v).ok_or_else(|| malformed(v, "create without an id"))?;
                    self.ids = Some(Ids { session, handle: 0 });
                    let fields = obj(json!({ "plugin": PLUGIN }));
                    self.request(&mut out.replies, "attach", Request::Attach, fields);
                }
            },
            Request::Attach => match failure {
                Some(e) => out
                    .msgs
                    .push(refusal("attaching to the VideoRoom plugin", e)),
                None => {
                    let handle = data_id(v).ok_or_else(|| malformed(v, "attach without an id"))?;
                    if let Some(ids) = &mut self.ids {
                        ids.handle = handle;
                    }
                    match self.create.clone() {
                        // A room that went while we were away stays gone.
                        Some(c) if !self.rejoining => self.create_room(&mut out.replies, &c),
                        _ => self.join(&mut out.replies),
                    }
                }
            },
            Request::CreateRoom => match (failure, plugin_failure) {
                (Some(e), _) => out.msgs.push(refusal("creating the room", e)),
                (None, None) => self.join(&mut out.replies),
                (None, Some((vr::ROOM_EXISTS, _))) => self.join(&mut out.replies),
                (None, Some(e)) if self.wants_string_room(&e) => {
                    let c = self.create.clone().expect("only sent with create_room");
                    self.create_room(&mut out.replies, &c);
                }
                (None, Some(e)) => out.msgs.push(ServerMsg::Refused {
                    reason: format!(
                        "Janus would not create room {}: {}",
                        self.room_text(),
                        janus_words(e)
                    ),
                    fatal: true,
                }),
            },
            Request::Join { reused } => match (failure, plugin_failure) {
                (Some(e), _) => out.msgs.push(refusal("joining the room", e)),
                (None, Some((vr::ID_EXISTS, _))) if reused => {
                    // Our old self is still in the room: join as a new participant.
                    self.own_id = None;
                    self.join(&mut out.replies);
                }
                (None, Some(e)) if self.wants_string_room(&e) => self.join(&mut out.replies),
                (None, Some((vr::NO_SUCH_ROOM, _))) if self.rejoining => {
                    // The room went while we were away.
                    self.out_of_room(ServerMsg::Ended, out);
                }
                (None, Some(e)) => out.msgs.push(self.join_refusal(e)),
                (None, None) => {
                    let d = data.ok_or_else(|| malformed(v, "join answer without data"))?;
                    if d.get("videoroom").and_then(Value::as_str) != Some("joined") {
                        return Err(malformed(v, "join answered without \"joined\""));
                    }
                    let id = d
                        .get("id")
                        .filter(|id| id_text(id).is_some())
                        .ok_or_else(|| malformed(v, "joined without a participant id"))?;
                    self.own_id = Some(id.clone());
                    self.facts.room = d
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    // `attendees` is only there when the room announces joins.
                    self.announces_joins = d.get("attendees").is_some();
                    self.stage = Stage::Listing;
                    self.list(&mut out.replies, ListFor::Join);
                }
            },
            Request::List(why) => self.on_list(why, failure, plugin_failure, data, v, out),
            Request::Keepalive(_) => match failure {
                None => {}
                Some((code::SESSION_NOT_FOUND, _)) => self.session_gone(
                    "Janus no longer knows our session (it timed out or was destroyed)",
                    out,
                ),
                Some(e) => out.msgs.push(refusal("keeping the session alive", e)),
            },
            Request::Claim => match failure {
                None => {
                    self.stage = Stage::Listing;
                    self.list(&mut out.replies, ListFor::Claim);
                }
                Some((code::SESSION_NOT_FOUND, _)) => {
                    // Past the reclaim window (or reclaiming is off): a full
                    // rejoin, with our old participant id if Janus lets us.
                    self.joined = None;
                    self.create_session(&mut out.replies);
                }
                Some(e) => out.msgs.push(refusal("reclaiming our session", e)),
            },
            Request::Leave => {
                if self.stage == Stage::Leaving {
                    // Janus has taken us out of the room (or says it cannot):
                    // only now end the session, so a quick rejoin does not
                    // find our old self still listed.
                    self.destroy(&mut out.replies);
                }
            }
            Request::Destroy => {
                if self.stage == Stage::Leaving {
                    self.stage = Stage::Idle;
                    out.msgs.push(ServerMsg::Left);
                }
            }
        }
        Ok(())
    }

    /// A 430 saying rooms are strings here (`string_ids`) while we sent a
    /// number: from now on the room goes as a string. The caller retries.
    fn wants_string_room(&mut self, (code, words): &(i64, String)) -> bool {
        if *code == vr::INVALID_ELEMENT
            && words.contains("(room should be a string")
            && let Value::Number(n) = &self.room
        {
            self.room = Value::from(n.to_string());
            return true;
        }
        false
    }

    fn on_server_info(&mut self, v: &Value, out: &mut Decoded) {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let secs = |k: &str| v.get(k).and_then(Value::as_u64).map(Duration::from_secs);
        self.facts.server = match (text("name"), text("version_string")) {
            (Some(n), Some(ver)) => Some(format!("{n} {ver}")),
            (n, ver) => n.or(ver),
        };
        self.facts.server_name = text("server-name");
        self.facts.session_timeout = secs("session-timeout");
        self.facts.resume_window = secs("reclaim-session-timeout");
        if let Some(t) = self.facts.session_timeout
            && !t.is_zero()
            && self.heartbeat_interval >= t
            && !std::mem::replace(&mut self.warned_timeout, true)
        {
            out.msgs.push(ServerMsg::Notice {
                message: format!(
                    "the heartbeat interval ({} s) is not shorter than Janus's session timeout ({} s): Janus will time the session out between heartbeats",
                    self.heartbeat_interval.as_secs_f64(),
                    t.as_secs()
                ),
            });
        }
    }

    fn on_list(
        &mut self,
        why: ListFor,
        failure: Option<(i64, String)>,
        plugin_failure: Option<(i64, String)>,
        data: Option<&Value>,
        v: &Value,
        out: &mut Decoded,
    ) {
        let expected = match why {
            ListFor::Join | ListFor::Claim => self.stage == Stage::Listing,
            ListFor::Poll => self.stage == Stage::Joined,
        };
        if !expected {
            return; // an answer for a stage we have left (our leave, a loss)
        }
        if let Some(e) = failure {
            if e.0 == code::HANDLE_NOT_FOUND {
                // The session is there but our handle is not: join afresh.
                self.session_gone("Janus no longer knows our plugin handle", out);
                return;
            }
            out.msgs.push(refusal("listing the participants", e));
            return;
        }
        if let Some(e) = plugin_failure {
            match (why, e.0) {
                // The room went while we were away (or under us).
                (ListFor::Claim | ListFor::Poll, vr::NO_SUCH_ROOM) => {
                    self.out_of_room(ServerMsg::Ended, out)
                }
                (ListFor::Join, _) => out.msgs.push(self.join_refusal(e)),
                _ => out.msgs.push(ServerMsg::Notice {
                    message: format!("Janus could not list the room: {}", janus_words(e)),
                }),
            }
            return;
        }
        let Some(list) = data
            .and_then(|d| d.get("participants"))
            .and_then(Value::as_array)
        else {
            out.msgs.push(ServerMsg::Notice {
                message: format!(
                    "ignored a participant list without \"participants\": {}",
                    excerpt(&v.to_string())
                ),
            });
            return;
        };
        let own = self.own_id_text();
        let mut here = false;
        let mut members = Vec::with_capacity(list.len());
        let mut unnamed = 0;
        for p in list {
            // The room's dummy publisher (a Janus feature) is nobody.
            if p.get("dummy").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            match member(p) {
                Some(m) if Some(&m.id) == own.as_ref() => here = true,
                Some(m) => members.push(m),
                None => unnamed += 1,
            }
        }
        if unnamed > 0 {
            out.msgs.push(ServerMsg::Notice {
                message: format!("ignored {unnamed} listed participant(s) without an id"),
            });
        }
        if !here {
            // Kicked (while we were away, or since we joined): Janus kept
            // the session, not our seat.
            self.out_of_room(ServerMsg::Removed, out);
            return;
        }
        match why {
            ListFor::Join | ListFor::Claim => {
                let resumed = why == ListFor::Claim;
                self.stage = Stage::Joined;
                self.joined = self.ids;
                let own_id = own.unwrap_or_default();
                let mut facts = self.facts.clone();
                facts.server_session = self.ids.map(|i| i.session.to_string());
                facts.own_id = Some(own_id.clone());
                let mut present: HashSet<String> = members.iter().map(|m| m.id.clone()).collect();
                present.insert(own_id.clone());
                out.msgs.push(ServerMsg::Joined {
                    resumed,
                    resume_token: self.ids.map(|i| i.session.to_string()),
                    own_id,
                    participants: members,
                    facts,
                });
                // What happened while the list was on its way, as far as the
                // list does not already say it.
                for ev in std::mem::take(&mut self.early) {
                    if self.stage != Stage::Joined {
                        break;
                    }
                    self.apply_room_event(&ev, out, Some(&mut present));
                }
            }
            ListFor::Poll => out.msgs.push(ServerMsg::Roster(members)),
        }
    }

    fn create_room(&mut self, out: &mut Vec<String>, c: &RoomCreation) {
        let mut body = obj(json!({
            "request": "create",
            "room": self.room,
            // Others see joins at once, and we need not poll for them.
            "notify_joining": true,
        }));
        if let Some(s) = &c.secret {
            body.insert("secret".into(), s.expose().into());
        }
        if let Some(k) = &c.admin_key {
            body.insert("admin_key".into(), k.expose().into());
        }
        if let Some(p) = &self.pin {
            body.insert("pin".into(), p.expose().into());
        }
        self.message(out, Request::CreateRoom, Value::Object(body));
    }

    fn room_text(&self) -> String {
        match &self.room {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// Why a join failed, in words that say what to change. Plugin refusals
    /// are final (the same join gets the same answer), except a full room
    /// (someone may leave) and our fixed id still taken by our old self.
    fn join_refusal(&self, (code, words): (i64, String)) -> ServerMsg {
        let room = self.room_text();
        let retry = |reason: String| ServerMsg::Refused {
            reason,
            fatal: false,
        };
        let what = match code {
            vr::NO_SUCH_ROOM if self.create.is_none() => {
                format!("no room {room} on this Janus (create it, or set janus.create_room = true)")
            }
            vr::NO_SUCH_ROOM => format!("room {room} vanished as we joined it"),
            vr::MISSING_ELEMENT if words.contains("pin") => {
                format!("room {room} needs a pin (janus.pin)")
            }
            vr::UNAUTHORIZED if self.pin.is_some() => format!("wrong pin for room {room}"),
            vr::UNAUTHORIZED => format!("room {room} needs a pin (janus.pin)"),
            vr::INVALID_ELEMENT if words.contains("(id should be") => {
                "participant ids on this Janus are of another kind than janus.participant_id"
                    .to_owned()
            }
            vr::INVALID_ELEMENT if words.contains("(room should be") => {
                format!("room ids on this Janus are numbers, and session {room:?} is not one")
            }
            vr::ID_EXISTS if self.rejoining => {
                return retry(format!(
                    "our participant id is still in room {room} ({})",
                    janus_words((code, words))
                ));
            }
            vr::ID_EXISTS => format!(
                "participant id {} is already in room {room} (janus.participant_id)",
                self.own_id_text().unwrap_or_default()
            ),
            vr::PUBLISHERS_FULL => {
                return retry(format!(
                    "room {room} is full ({})",
                    janus_words((code, words))
                ));
            }
            _ => format!("Janus refused to join room {room}"),
        };
        ServerMsg::Refused {
            reason: format!("{what} ({})", janus_words((code, words))),
            fatal: true,
        }
    }

    /// An event nobody asked for: someone came, went, was renamed, or the
    /// room or our session ended.
    fn on_room_event(&mut self, v: &Value, out: &mut Decoded) {
        match self.stage {
            Stage::Joined => self.apply_room_event(v, out, None),
            // The roster answers for the time before it; what comes after
            // it is applied once it is in.
            Stage::Listing => self.early.push(v.clone()),
            _ => {}
        }
    }

    /// One room event. With `present` (replaying what came before the
    /// roster), news the roster already holds is skipped.
    fn apply_room_event(
        &mut self,
        v: &Value,
        out: &mut Decoded,
        mut present: Option<&mut HashSet<String>>,
    ) {
        let Some(d) = plugin_data(v) else { return };
        let own = self.own_id_text();
        let ours = |id: &str| Some(id) == own.as_deref();
        // Whether the roster does not know this yet; updates the replay set.
        fn news(present: &mut Option<&mut HashSet<String>>, id: &str, now_here: bool) -> bool {
            match present.as_deref_mut() {
                None => true,
                Some(p) if now_here => p.insert(id.to_owned()),
                Some(p) => p.remove(id),
            }
        }
        match d.get("videoroom").and_then(Value::as_str) {
            Some("destroyed") => self.out_of_room(ServerMsg::Ended, out),
            Some("event") => {
                if let Some(j) = d.get("joining") {
                    if let Some(m) = member(j)
                        && !ours(&m.id)
                        && news(&mut present, &m.id, true)
                    {
                        out.msgs.push(ServerMsg::ParticipantJoined(m));
                    }
                } else if let Some(l) = d.get("leaving").or_else(|| d.get("kicked")) {
                    let kicked = d.get("reason").and_then(Value::as_str) == Some("kicked");
                    match id_text(l) {
                        _ if l.as_str() == Some("ok") && kicked => {
                            self.out_of_room(ServerMsg::Removed, out)
                        }
                        // Our own leave's echo: the answer to our request says it.
                        _ if l.as_str() == Some("ok") => {}
                        Some(id) if ours(&id) => self.out_of_room(ServerMsg::Removed, out),
                        Some(id) if news(&mut present, &id, false) => {
                            out.msgs.push(ServerMsg::ParticipantLeft { id })
                        }
                        _ => {}
                    }
                } else if let (Some(id), Some(display)) = (d.get("id"), d.get("display")) {
                    if let Some(id) = id_text(id)
                        && !ours(&id)
                        && present.as_deref().is_none_or(|p| p.contains(&id))
                    {
                        let display = display.as_str().unwrap_or_default().to_owned();
                        out.msgs.push(ServerMsg::ParticipantRenamed { id, display });
                    }
                } else if let Some(e) = plugin_error(d) {
                    out.msgs.push(ServerMsg::Notice {
                        message: format!("Janus: {}", janus_words(e)),
                    });
                }
                // The rest (`unpublished`, which also comes twice before a
                // leave; `publishers`; `configured`) says nothing about who is here.
            }
            _ => {}
        }
    }
}

impl Backend for JanusBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Janus
    }

    fn subprotocol(&self) -> Option<&'static str> {
        Some(SUBPROTOCOL)
    }

    fn transport_up(&mut self) {
        // Answers to requests on the old socket never come.
        self.pending.clear();
        self.early.clear();
        self.stage = Stage::Idle;
    }

    fn attempt_abandoned(&mut self, out: &mut Vec<String>) {
        // A half-built session would keep a copy of us in the room for the
        // reclaim window; the one we were joined with stays claimable.
        if self.ids.is_some() && self.ids != self.joined {
            self.request(out, "destroy", Request::Destroy, Map::new());
            self.ids = None;
        }
    }

    fn encode(&mut self, msg: ClientMsg, out: &mut Vec<String>) {
        match msg {
            ClientMsg::Join { resume } => {
                self.request(out, "info", Request::Info, Map::new());
                self.early.clear();
                self.rejoining = resume.is_some();
                match (resume, self.joined) {
                    (Some(_), Some(joined)) => {
                        self.ids = Some(joined);
                        self.stage = Stage::Handshake;
                        let fields = obj(json!({ "session_id": joined.session }));
                        self.request(out, "claim", Request::Claim, fields);
                    }
                    (resume, _) => {
                        if resume.is_none() {
                            // A new join, not a rejoin: no old id to ask for.
                            self.own_id = self.fixed_id.map(Value::from);
                            self.joined = None;
                        }
                        self.create_session(out);
                    }
                }
            }
            ClientMsg::Leave => match self.stage {
                Stage::Joined => {
                    // `destroy` follows Janus's answer to the leave.
                    self.message(out, Request::Leave, json!({ "request": "leave" }));
                    self.stage = Stage::Leaving;
                    self.joined = None;
                }
                _ => self.destroy(out),
            },
            ClientMsg::Ping { seq } => {
                if self.ids.is_some() && self.stage == Stage::Joined {
                    self.request(out, "keepalive", Request::Keepalive(seq), Map::new());
                    if !self.announces_joins {
                        self.list(out, ListFor::Poll);
                    }
                }
            }
        }
    }

    fn decode(&mut self, frame: &str, out: &mut Decoded) -> Result<(), ProtocolError> {
        let v: Value = serde_json::from_str(frame).map_err(|e| ProtocolError::Malformed {
            detail: e.to_string(),
            excerpt: excerpt(frame),
        })?;
        let Some(janus) = v.get("janus").and_then(Value::as_str) else {
            return Err(malformed(&v, "no \"janus\" field"));
        };
        if let (Some(ours), Some(theirs)) = (self.ids, v.get("session_id").and_then(Value::as_u64))
            && theirs != ours.session
            && theirs != 0
        {
            out.msgs.push(ServerMsg::Notice {
                message: format!("ignored a Janus {janus} for another session ({theirs})"),
            });
            return Ok(());
        }
        let what = v
            .get("transaction")
            .and_then(Value::as_str)
            .and_then(|tx| self.pending.remove(tx));
        match (janus, what) {
            ("ack" | "success" | "error" | "event" | "server_info", Some(what)) => {
                self.on_response(what, janus, &v, out)?;
            }
            ("event", None) => self.on_room_event(&v, out),
            ("timeout", None) => {
                if matches!(self.stage, Stage::Joined | Stage::Listing) {
                    self.session_gone(
                        "Janus timed our session out (no keepalive reached it in time)",
                        out,
                    );
                }
            }
            ("detached", None) => {
                // Our handle is gone (an administrator detached it): we are out
                // of the room while the session stays; join afresh.
                let ours = self.ids.map(|i| i.handle);
                if matches!(self.stage, Stage::Joined | Stage::Listing)
                    && v.get("sender").and_then(Value::as_u64) == ours
                {
                    self.session_gone("Janus detached our plugin handle", out);
                }
            }
            ("error", None) => {
                if let Some(e) = core_error(&v) {
                    out.msgs.push(ServerMsg::Notice {
                        message: format!("Janus: {}", janus_words(e)),
                    });
                }
            }
            // Media-only messages (`webrtcup`, `media`, `slowlink`,
            // `hangup`...), answers to transactions we no longer wait for,
            // and types newer than this code: nothing about who is here.
            _ => {}
        }
        Ok(())
    }

    fn on_close(&mut self, _code: Option<u16>, _reason: &str) -> Option<ServerMsg> {
        // Janus puts no meaning in close codes: any close is network trouble.
        None
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("json! object literals are objects"),
    }
}

fn tx_of(v: &Value) -> String {
    v.get("transaction")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// An id as text: Janus ids are numbers, or strings on `string_ids` servers.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() && s != "ok" => Some(s.clone()),
        _ => None,
    }
}

fn member(p: &Value) -> Option<Member> {
    Some(Member {
        id: id_text(p.get("id")?)?,
        display: p
            .get("display")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        joined_at: None,
    })
}

fn data_id(v: &Value) -> Option<u64> {
    v.get("data")?.get("id")?.as_u64()
}

fn plugin_data(v: &Value) -> Option<&Value> {
    v.get("plugindata")?.get("data")
}

/// A Janus core error: `{"janus":"error","error":{"code":…,"reason":…}}`.
fn core_error(v: &Value) -> Option<(i64, String)> {
    let e = v.get("error")?;
    Some((
        e.get("code").and_then(Value::as_i64).unwrap_or_default(),
        e.get("reason")
            .and_then(Value::as_str)
            .unwrap_or("no reason given")
            .to_owned(),
    ))
}

/// A plugin error, inside a `success` or `event` envelope.
fn plugin_error(d: &Value) -> Option<(i64, String)> {
    let code = d.get("error_code")?.as_i64().unwrap_or_default();
    let words = d
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("no reason given");
    Some((code, words.to_owned()))
}

fn janus_words((code, words): (i64, String)) -> String {
    format!("Janus error {code}: {}", excerpt(&words))
}

/// A core error while doing `what`: credentials and missing plugins are
/// final; anything else may pass, so it is retried.
fn refusal(what: &str, e: (i64, String)) -> ServerMsg {
    let (hint, fatal) = match e.0 {
        code::UNAUTHORIZED => (" (check the token and janus.api_secret)", true),
        code::UNAUTHORIZED_PLUGIN => (" (the token does not grant the VideoRoom plugin)", true),
        code::PLUGIN_NOT_FOUND => (" (this Janus has no VideoRoom plugin)", true),
        _ => ("", false),
    };
    ServerMsg::Refused {
        reason: format!("Janus refused {what}{hint}: {}", janus_words(e)),
        fatal,
    }
}

fn malformed(v: &Value, detail: &str) -> ProtocolError {
    ProtocolError::Malformed {
        detail: detail.to_owned(),
        excerpt: excerpt(&v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    //! The backend on its own, fed frames as Janus 1.1.2 sends them (the
    //! shapes come from the real server; only transaction and ids are ours).

    use super::*;
    use crate::settings::JanusOptions;

    const SID: u64 = 505261401159152;
    const HID: u64 = 7679761728249996;
    const ME: u64 = 8362730246246576;

    fn backend(j: JanusOptions) -> JanusBackend {
        let s = SessionSettings::builder("ws://127.0.0.1:8188", "4001", "alice")
            .backend(BackendKind::Janus)
            .janus(j)
            .build()
            .unwrap();
        JanusBackend::new(&s)
    }

    /// Frames the backend sent, parsed.
    fn sent(frames: &[String]) -> Vec<Value> {
        frames
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect()
    }

    fn tx(v: &Value) -> String {
        v["transaction"].as_str().unwrap().to_owned()
    }

    /// The sent request whose `janus` (or body `request`) is `what`.
    fn find<'a>(frames: &'a [Value], what: &str) -> &'a Value {
        frames
            .iter()
            .find(|f| f["janus"] == what || f["body"]["request"] == what)
            .unwrap_or_else(|| panic!("no {what} in {frames:?}"))
    }

    fn feed(b: &mut JanusBackend, frame: Value) -> Decoded {
        let mut d = Decoded::default();
        b.decode(&frame.to_string(), &mut d).unwrap();
        d
    }

    fn server_info(tx: &str) -> Value {
        json!({"janus":"server_info","transaction":tx,"name":"Janus WebRTC Server","version":1102,
               "version_string":"1.1.2","server-name":"janus-ci","session-timeout":60,
               "reclaim-session-timeout":0,"accepting-new-sessions":true})
    }

    fn joined_event(tx: &str, attendees: bool) -> Value {
        let mut data = json!({"videoroom":"joined","room":4001,"description":"probe room",
                              "id":ME,"private_id":3759107995u64,"publishers":[]});
        if attendees {
            data["attendees"] = json!([]);
        }
        json!({"janus":"event","session_id":SID,"transaction":tx,"sender":HID,
               "plugindata":{"plugin":"janus.plugin.videoroom","data":data}})
    }

    fn participants(tx: &str, list: Value) -> Value {
        json!({"janus":"success","session_id":SID,"transaction":tx,"sender":HID,
               "plugindata":{"plugin":"janus.plugin.videoroom",
                             "data":{"videoroom":"participants","room":4001,"participants":list}}})
    }

    fn room_event(data: Value) -> Value {
        json!({"janus":"event","session_id":SID,"sender":HID,
               "plugindata":{"plugin":"janus.plugin.videoroom","data":data}})
    }

    /// A fresh transport, our join, and `create` and `attach` answered: what
    /// the attach answer made us send (the join, or a room `create`).
    fn attached(b: &mut JanusBackend, resume: Option<String>) -> Decoded {
        b.transport_up();
        let mut out = Vec::new();
        b.encode(ClientMsg::Join { resume }, &mut out);
        let first = sent(&out);
        assert_eq!(first.len(), 2, "info and create go out together");
        let d = feed(b, server_info(&tx(find(&first, "info"))));
        assert!(d.msgs.is_empty() && d.replies.is_empty());
        let create = find(&first, "create").clone();
        let d = feed(
            b,
            json!({"janus":"success","transaction":tx(&create),"data":{"id":SID}}),
        );
        let attach = sent(&d.replies)[0].clone();
        assert_eq!(attach["plugin"], PLUGIN);
        assert_eq!(attach["session_id"], SID);
        feed(
            b,
            json!({"janus":"success","session_id":SID,"transaction":tx(&attach),"data":{"id":HID}}),
        )
    }

    /// Through the whole handshake to `Joined`; `ack_first` picks the order
    /// of the join's ack and event, which Janus sends either way round.
    fn joined(b: &mut JanusBackend, ack_first: bool) -> ServerMsg {
        let d = attached(b, None);
        let join = sent(&d.replies)[0].clone();
        assert_eq!(join["body"]["request"], "join");
        assert_eq!(join["body"]["display"], "alice");
        assert_eq!(join["body"]["room"], 4001, "numeric sessions go as numbers");
        assert_eq!(join["handle_id"], HID);
        let ack = json!({"janus":"ack","session_id":SID,"transaction":tx(&join)});
        let event = joined_event(&tx(&join), true);
        let (first, second) = if ack_first {
            (ack, event)
        } else {
            (event, ack)
        };
        let d1 = feed(b, first);
        let d2 = feed(b, second);
        let replies: Vec<Value> = sent(&d1.replies)
            .into_iter()
            .chain(sent(&d2.replies))
            .collect();
        assert!(d1.msgs.is_empty() && d2.msgs.is_empty());
        let list = &replies[0];
        assert_eq!(list["body"]["request"], "listparticipants");
        let mut d = feed(
            b,
            participants(
                &tx(list),
                json!([{"id":2560301961698130u64,"display":"alice","publisher":false},
                       {"id":ME,"display":"alice","publisher":false},
                       {"id":2903187546890386u64,"publisher":false}]),
            ),
        );
        assert_eq!(d.msgs.len(), 1);
        d.msgs.remove(0)
    }

    #[test]
    fn the_handshake_joins_with_the_roster_minus_us_in_either_answer_order() {
        for ack_first in [true, false] {
            let mut b = backend(JanusOptions::default());
            let ServerMsg::Joined {
                resumed,
                resume_token,
                own_id,
                participants,
                facts,
            } = joined(&mut b, ack_first)
            else {
                panic!("not joined");
            };
            assert!(!resumed);
            assert_eq!(resume_token, Some(SID.to_string()));
            assert_eq!(own_id, ME.to_string());
            let ids: Vec<(&str, &str)> = participants
                .iter()
                .map(|m| (m.id.as_str(), m.display.as_str()))
                .collect();
            assert_eq!(
                ids,
                [("2560301961698130", "alice"), ("2903187546890386", "")]
            );
            assert_eq!(facts.server.as_deref(), Some("Janus WebRTC Server 1.1.2"));
            assert_eq!(facts.server_name.as_deref(), Some("janus-ci"));
            assert_eq!(facts.session_timeout, Some(Duration::from_secs(60)));
            assert_eq!(facts.resume_window, Some(Duration::ZERO));
            assert_eq!(facts.room.as_deref(), Some("probe room"));
            assert_eq!(facts.server_session, Some(SID.to_string()));
        }
    }

    #[test]
    fn room_events_map_to_joins_leaves_and_renames_and_unpublished_means_nothing() {
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let d = feed(
            &mut b,
            room_event(
                json!({"videoroom":"event","room":4001,"joining":{"id":777,"display":"dave"}}),
            ),
        );
        assert_eq!(
            d.msgs,
            [ServerMsg::ParticipantJoined(Member {
                id: "777".into(),
                display: "dave".into(),
                joined_at: None
            })]
        );
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"event","room":4001,"unpublished":777})),
        );
        assert!(d.msgs.is_empty(), "unpublished is not a leave");
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"event","id":777,"display":"dave2"})),
        );
        assert_eq!(
            d.msgs,
            [ServerMsg::ParticipantRenamed {
                id: "777".into(),
                display: "dave2".into()
            }]
        );
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"event","room":4001,"leaving":777})),
        );
        assert_eq!(d.msgs, [ServerMsg::ParticipantLeft { id: "777".into() }]);
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"event","room":4001,"kicked":2560301961698130u64})),
        );
        assert_eq!(
            d.msgs,
            [ServerMsg::ParticipantLeft {
                id: "2560301961698130".into()
            }]
        );
        for ignored in ["webrtcup", "media", "slowlink", "hangup", "brand_new"] {
            let d = feed(
                &mut b,
                json!({"janus":ignored,"session_id":SID,"sender":HID}),
            );
            assert!(d.msgs.is_empty(), "{ignored}");
        }
        // Another handle's detach is none of ours; our own means we are out.
        let d = feed(
            &mut b,
            json!({"janus":"detached","session_id":SID,"sender":HID + 1}),
        );
        assert!(d.msgs.is_empty());
        let d = feed(
            &mut b,
            json!({"janus":"detached","session_id":SID,"sender":HID}),
        );
        assert!(
            matches!(&d.msgs[..], [ServerMsg::SessionLost { .. }]),
            "{:?}",
            d.msgs
        );
    }

    #[test]
    fn kicked_and_destroyed_end_the_session_and_we_destroy_ours() {
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"event","room":4001,"leaving":"ok","reason":"kicked"})),
        );
        assert_eq!(d.msgs, [ServerMsg::Removed]);
        assert_eq!(sent(&d.replies)[0]["janus"], "destroy");
        let mut b = backend(JanusOptions::default());
        joined(&mut b, false);
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"destroyed","room":4001})),
        );
        assert_eq!(d.msgs, [ServerMsg::Ended]);
        assert_eq!(sent(&d.replies)[0]["janus"], "destroy");
    }

    #[test]
    fn keepalive_acks_are_pongs_and_a_lost_janus_session_is_a_loss() {
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let mut out = Vec::new();
        b.encode(ClientMsg::Ping { seq: 7 }, &mut out);
        let ka = &sent(&out)[0];
        assert_eq!(ka["janus"], "keepalive");
        assert_eq!(ka["session_id"], SID);
        assert_eq!(out.len(), 1, "a room that announces joins is not polled");
        let d = feed(
            &mut b,
            json!({"janus":"ack","session_id":SID,"transaction":tx(ka)}),
        );
        assert_eq!(d.msgs, [ServerMsg::Pong { seq: 7 }]);
        let d = feed(&mut b, json!({"janus":"timeout","session_id":SID}));
        assert!(
            matches!(&d.msgs[..], [ServerMsg::SessionLost { .. }]),
            "{:?}",
            d.msgs
        );
    }

    #[test]
    fn a_claim_resyncs_and_finds_out_what_happened_while_we_were_away() {
        let claim = |b: &mut JanusBackend| {
            b.transport_up();
            let mut out = Vec::new();
            b.encode(
                ClientMsg::Join {
                    resume: Some(SID.to_string()),
                },
                &mut out,
            );
            let c = find(&sent(&out), "claim").clone();
            assert_eq!(c["session_id"], SID);
            let d = feed(
                b,
                json!({"janus":"success","session_id":SID,"transaction":tx(&c)}),
            );
            sent(&d.replies)[0].clone()
        };
        // Still in the room, with someone new: resumed.
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let list = claim(&mut b);
        let d = feed(
            &mut b,
            participants(
                &tx(&list),
                json!([{"id":ME,"display":"alice"},{"id":42,"display":"erin"}]),
            ),
        );
        match &d.msgs[..] {
            [
                ServerMsg::Joined {
                    resumed: true,
                    participants,
                    ..
                },
            ] => {
                assert_eq!(participants[0].id, "42")
            }
            other => panic!("{other:?}"),
        }
        // Not in the list any more: kicked while away.
        let list = claim(&mut b);
        let d = feed(
            &mut b,
            participants(&tx(&list), json!([{"id":42,"display":"erin"}])),
        );
        assert_eq!(d.msgs, [ServerMsg::Removed]);
        // The room is gone: ended.
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let list = claim(&mut b);
        let gone = json!({"janus":"success","session_id":SID,"transaction":tx(&list),"sender":HID,
            "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":426,"error":"No such room (4001)"}}});
        assert_eq!(feed(&mut b, gone).msgs, [ServerMsg::Ended]);
    }

    #[test]
    fn a_claim_past_the_reclaim_window_rejoins_asking_for_the_old_id() {
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        b.transport_up();
        let mut out = Vec::new();
        b.encode(
            ClientMsg::Join {
                resume: Some(SID.to_string()),
            },
            &mut out,
        );
        let c = find(&sent(&out), "claim").clone();
        let d = feed(
            &mut b,
            json!({"janus":"error","session_id":SID,"transaction":tx(&c),
            "error":{"code":458,"reason":format!("No such session {SID}")}}),
        );
        let create = &sent(&d.replies)[0];
        assert_eq!(create["janus"], "create");
        assert!(create.get("session_id").is_none());
        let d = feed(
            &mut b,
            json!({"janus":"success","transaction":tx(create),"data":{"id":99}}),
        );
        let attach = &sent(&d.replies)[0];
        let d = feed(
            &mut b,
            json!({"janus":"success","session_id":99,"transaction":tx(attach),"data":{"id":98}}),
        );
        let join = &sent(&d.replies)[0];
        assert_eq!(
            join["body"]["id"], ME,
            "the old participant id is asked for"
        );
        // Still there under that id (436): join as someone new instead.
        let d = feed(
            &mut b,
            json!({"janus":"event","session_id":99,"transaction":tx(join),"sender":98,
            "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":436,"error":"User ID exists"}}}),
        );
        assert!(d.msgs.is_empty());
        let again = &sent(&d.replies)[0];
        assert!(again["body"].get("id").is_none());
    }

    #[test]
    fn refusals_retrying_cannot_fix_are_fatal_and_say_what_to_change() {
        let join_error = |j: JanusOptions, code: i64, error: &str| {
            let mut b = backend(j);
            let d = attached(&mut b, None);
            let join = &sent(&d.replies)[0];
            let d = feed(
                &mut b,
                json!({"janus":"event","session_id":SID,"transaction":tx(join),"sender":HID,
                "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":code,"error":error}}}),
            );
            match &d.msgs[..] {
                [
                    ServerMsg::Refused {
                        reason,
                        fatal: true,
                    },
                ] => reason.clone(),
                other => panic!("{other:?}"),
            }
        };
        let r = join_error(JanusOptions::default(), 426, "No such room (4001)");
        assert!(
            r.contains("no room 4001") && r.contains("janus.create_room") && r.contains("426"),
            "{r}"
        );
        let r = join_error(
            JanusOptions::default(),
            429,
            "Missing mandatory element (pin)",
        );
        assert!(r.contains("needs a pin"), "{r}");
        let pinned = JanusOptions {
            pin: Some(Secret::new("0000")),
            ..JanusOptions::default()
        };
        let r = join_error(pinned, 433, "Unauthorized (wrong pin)");
        assert!(r.contains("wrong pin") && r.contains("433"), "{r}");
        let r = join_error(
            JanusOptions::default(),
            430,
            "Invalid element type (room should be a positive integer)",
        );
        assert!(r.contains("numbers"), "{r}");

        let mut b = backend(JanusOptions::default());
        b.transport_up();
        let mut out = Vec::new();
        b.encode(ClientMsg::Join { resume: None }, &mut out);
        let create = find(&sent(&out), "create").clone();
        let d = feed(
            &mut b,
            json!({"janus":"error","transaction":tx(&create),
            "error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}),
        );
        match &d.msgs[..] {
            [
                ServerMsg::Refused {
                    reason,
                    fatal: true,
                },
            ] => assert!(reason.contains("403"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn secrets_go_on_every_request() {
        let mut b = backend(JanusOptions {
            api_secret: Some(Secret::new("apisec")),
            ..JanusOptions::default()
        });
        b.transport_up();
        let mut out = Vec::new();
        b.encode(ClientMsg::Join { resume: None }, &mut out);
        for f in sent(&out) {
            assert_eq!(f["apisecret"], "apisec", "{f}");
        }
    }

    #[test]
    fn our_leave_sends_leave_then_destroy_and_the_destroy_answer_is_left() {
        for ack_first in [true, false] {
            let mut b = backend(JanusOptions::default());
            joined(&mut b, true);
            let mut out = Vec::new();
            b.encode(ClientMsg::Leave, &mut out);
            let frames = sent(&out);
            assert_eq!(frames.len(), 1, "destroy waits for the leave's answer");
            assert_eq!(frames[0]["body"]["request"], "leave");
            let ack = json!({"janus":"ack","session_id":SID,"transaction":tx(&frames[0])});
            let leave_ok = json!({"janus":"event","session_id":SID,"transaction":tx(&frames[0]),"sender":HID,
                "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":4001,"leaving":"ok"}}});
            let (first, second) = if ack_first {
                (ack, leave_ok)
            } else {
                (leave_ok, ack)
            };
            let d1 = feed(&mut b, first);
            let d2 = feed(&mut b, second);
            assert!(d1.msgs.is_empty() && d2.msgs.is_empty());
            let destroy: Vec<Value> = sent(&d1.replies)
                .into_iter()
                .chain(sent(&d2.replies))
                .collect();
            assert_eq!(destroy.len(), 1);
            assert_eq!(destroy[0]["janus"], "destroy");
            assert_eq!(destroy[0]["session_id"], SID);
            let d = feed(
                &mut b,
                json!({"janus":"success","session_id":SID,"transaction":tx(&destroy[0])}),
            );
            assert_eq!(d.msgs, [ServerMsg::Left]);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut b = backend(JanusOptions::default());
        let mut d = Decoded::default();
        assert!(b.decode("{not json", &mut d).is_err());
        assert!(b.decode("{\"no\":\"janus\"}", &mut d).is_err());
        assert!(b.decode("[1,2,3]", &mut d).is_err());
        assert!(d.msgs.is_empty());
    }

    /// Claims after a drop; returns the `listparticipants` it then sends.
    fn claim_back(b: &mut JanusBackend) -> Value {
        b.transport_up();
        let mut out = Vec::new();
        b.encode(
            ClientMsg::Join {
                resume: Some(SID.to_string()),
            },
            &mut out,
        );
        let c = find(&sent(&out), "claim").clone();
        assert_eq!(c["session_id"], SID);
        let d = feed(
            b,
            json!({"janus":"success","session_id":SID,"transaction":tx(&c)}),
        );
        sent(&d.replies)[0].clone()
    }

    #[test]
    fn only_the_session_that_got_us_in_is_ever_claimed_and_a_half_built_one_is_destroyed() {
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        // Drop; the claim comes too late (458): a new session S2 is built...
        b.transport_up();
        let mut out = Vec::new();
        b.encode(
            ClientMsg::Join {
                resume: Some(SID.to_string()),
            },
            &mut out,
        );
        let c = find(&sent(&out), "claim").clone();
        let d = feed(
            &mut b,
            json!({"janus":"error","session_id":SID,"transaction":tx(&c),
            "error":{"code":458,"reason":"No such session"}}),
        );
        let create = sent(&d.replies)[0].clone();
        feed(
            &mut b,
            json!({"janus":"success","transaction":tx(&create),"data":{"id":77}}),
        );
        // ...and the attempt is given up before the join is answered.
        let mut out = Vec::new();
        b.attempt_abandoned(&mut out);
        let destroy = &sent(&out)[0];
        assert_eq!(
            (destroy["janus"].as_str(), destroy["session_id"].as_u64()),
            (Some("destroy"), Some(77))
        );
        // The next attempt does not claim S2 (it never held our seat): it starts afresh.
        b.transport_up();
        let mut out = Vec::new();
        b.encode(
            ClientMsg::Join {
                resume: Some(SID.to_string()),
            },
            &mut out,
        );
        let frames = sent(&out);
        assert!(frames.iter().all(|f| f["janus"] != "claim"), "{frames:?}");
        assert!(frames.iter().any(|f| f["janus"] == "create"));
        // While a joined session is kept claimable when an attempt on it is given up.
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        claim_back(&mut b);
        let mut out = Vec::new();
        b.attempt_abandoned(&mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn a_rejoin_never_recreates_a_room_that_went_and_its_absence_is_an_end() {
        let mut b = backend(JanusOptions {
            create_room: true,
            ..JanusOptions::default()
        });
        // First join creates the room.
        let d = attached(&mut b, None);
        assert_eq!(
            sent(&d.replies)[0]["body"]["request"],
            "create",
            "a first join creates it"
        );
        // A rejoin (nothing to claim) goes straight to join, and 426 means ended.
        let mut b = backend(JanusOptions {
            create_room: true,
            ..JanusOptions::default()
        });
        b.transport_up();
        let mut out = Vec::new();
        b.encode(
            ClientMsg::Join {
                resume: Some("1".into()),
            },
            &mut out,
        );
        let create = find(&sent(&out), "create").clone();
        let d = feed(
            &mut b,
            json!({"janus":"success","transaction":tx(&create),"data":{"id":SID}}),
        );
        let attach = sent(&d.replies)[0].clone();
        let d = feed(
            &mut b,
            json!({"janus":"success","session_id":SID,"transaction":tx(&attach),"data":{"id":HID}}),
        );
        let join = sent(&d.replies)[0].clone();
        assert_eq!(join["body"]["request"], "join");
        let d = feed(
            &mut b,
            json!({"janus":"event","session_id":SID,"transaction":tx(&join),"sender":HID,
            "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":426,"error":"No such room (4001)"}}}),
        );
        assert_eq!(d.msgs, [ServerMsg::Ended]);
    }

    #[test]
    fn events_while_the_roster_is_on_its_way_are_applied_after_it_without_doubles() {
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let list = claim_back(&mut b);
        for data in [
            json!({"videoroom":"event","room":4001,"joining":{"id":42,"display":"erin"}}),
            json!({"videoroom":"event","room":4001,"joining":{"id":43,"display":"finn"}}),
            json!({"videoroom":"event","room":4001,"leaving":2560301961698130u64}),
        ] {
            assert!(
                feed(&mut b, room_event(data)).msgs.is_empty(),
                "held until the roster"
            );
        }
        // The roster already has erin (and still bob); finn joined after it was made.
        let d = feed(
            &mut b,
            participants(
                &tx(&list),
                json!([
            {"id":ME,"display":"alice"},{"id":42,"display":"erin"},{"id":2560301961698130u64,"display":"bob"}]),
            ),
        );
        let kinds: Vec<String> = d
            .msgs
            .iter()
            .map(|m| match m {
                ServerMsg::Joined {
                    participants,
                    resumed,
                    ..
                } => format!("joined {resumed} {}", participants.len()),
                ServerMsg::ParticipantJoined(m) => format!("+{}", m.id),
                ServerMsg::ParticipantLeft { id } => format!("-{id}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["joined true 2", "+43", "-2560301961698130"]);
    }

    #[test]
    fn kicked_between_the_join_and_its_roster_is_removed_not_joined() {
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let list = claim_back(&mut b);
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"event","room":4001,"leaving":"ok","reason":"kicked"})),
        );
        assert!(d.msgs.is_empty());
        let d = feed(
            &mut b,
            participants(&tx(&list), json!([{"id":42,"display":"erin"}])),
        );
        assert_eq!(d.msgs, [ServerMsg::Removed]);
        // Our own id leaving or kicked, once joined, means we are out too.
        let mut b = backend(JanusOptions::default());
        joined(&mut b, true);
        let d = feed(
            &mut b,
            room_event(json!({"videoroom":"event","room":4001,"kicked":ME})),
        );
        assert_eq!(d.msgs, [ServerMsg::Removed]);
    }

    #[test]
    fn string_room_ids_are_retried_as_strings_and_the_dummy_publisher_is_nobody() {
        let mut b = backend(JanusOptions::default());
        let d = attached(&mut b, None);
        let join = sent(&d.replies)[0].clone();
        assert_eq!(join["body"]["room"], 4001);
        let d = feed(
            &mut b,
            json!({"janus":"event","session_id":SID,"transaction":tx(&join),"sender":HID,
            "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":430,
            "error":"Invalid element type (room should be a string)"}}}),
        );
        assert!(d.msgs.is_empty());
        let again = sent(&d.replies)[0].clone();
        assert_eq!(again["body"]["room"], "4001");
        let d = feed(&mut b, joined_event(&tx(&again), true));
        let list = sent(&d.replies)[0].clone();
        let d = feed(
            &mut b,
            participants(
                &tx(&list),
                json!([
            {"id":ME,"display":"alice"},{"id":5,"display":"Dummy publisher","dummy":true,"publisher":true},
            {"display":"no id"}]),
            ),
        );
        assert!(
            matches!(&d.msgs[1], ServerMsg::Joined { participants, .. } if participants.is_empty()),
            "{:?}",
            d.msgs
        );
        assert!(
            matches!(&d.msgs[0], ServerMsg::Notice { message } if message.contains("without an id"))
        );
        assert_eq!(
            room_id("007"),
            Value::from("007"),
            "not a number written the usual way"
        );
        assert_eq!(room_id("4001"), Value::from(4001));
    }

    #[test]
    fn a_poll_answer_after_our_leave_is_not_an_end() {
        let mut b = backend(JanusOptions::default());
        let d = attached(&mut b, None);
        let join = sent(&d.replies)[0].clone();
        // A room without notify_joining: no attendees, so heartbeats poll.
        let d = feed(&mut b, joined_event(&tx(&join), false));
        let list = sent(&d.replies)[0].clone();
        feed(
            &mut b,
            participants(&tx(&list), json!([{"id":ME,"display":"alice"}])),
        );
        let mut out = Vec::new();
        b.encode(ClientMsg::Ping { seq: 1 }, &mut out);
        let poll = find(&sent(&out), "listparticipants").clone();
        let mut out = Vec::new();
        b.encode(ClientMsg::Leave, &mut out);
        let gone = json!({"janus":"success","session_id":SID,"transaction":tx(&poll),"sender":HID,
            "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":426,"error":"No such room"}}});
        assert!(feed(&mut b, gone).msgs.is_empty());
    }
}
