//! The reference server's state: sessions, their members, resume slots.
//! Every change happens under one lock with no await inside, so it stays consistent.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;

pub use super::outbox::{Conn, Outbox, Outgoing};
use crate::event::rfc3339_ms;
use crate::protocol::{ErrorCode, Participant, ServerFrame, close};

#[derive(Debug)]
struct Slot {
    /// The member's name again, shared: a listing copies it without allocating.
    user: Arc<str>,
    joined_at: SystemTime,
    /// `joined_at` as RFC 3339, formatted once at the join rather than on
    /// every roster and listing (thousands of times under the lock).
    since: Arc<str>,
    resume_token: String,
    conn: Option<Conn>,
    /// Bumped on every (re)connect, so a stale expiry timer knows it is stale.
    generation: u64,
}

#[derive(Debug, Default)]
struct Room {
    members: BTreeMap<String, Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revoked {
    Removed,
    Ended,
}

#[derive(Debug, Default)]
struct State {
    rooms: HashMap<String, Room>,
    /// Ended sessions refuse joins until then.
    ended: HashMap<String, Instant>,
    /// Resume tokens of members who were removed or whose session ended.
    revoked: HashMap<String, (Revoked, Instant)>,
    next_conn: u64,
    /// Bumped by every change that could show in a listing, so an unchanged
    /// server answers a poll with the body it made last time.
    version: u64,
}

/// Shared handle to the server state.
#[derive(Debug, Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
    /// How long a dropped member's slot is kept for a resume (and how long an
    /// ended session refuses joins).
    pub resume_window: Duration,
    /// The HS256 secret join tokens are checked with; `None`: joins need no
    /// token.
    pub token_secret: Option<String>,
    /// What may be queued for one client before it is cut off.
    pub max_queued_bytes: usize,
    /// The last admin list body and the state version it shows.
    listed: Arc<Mutex<Option<(u64, bytes::Bytes)>>>,
}

/// The admin list, as [`Hub::listing_or_cached`] finds it.
#[derive(Debug)]
pub enum AdminList {
    /// Nothing changed since this body was made.
    Unchanged(bytes::Bytes),
    /// Something changed: a fresh copy to serialize.
    Changed {
        /// Who is where now.
        listing: Listing,
        /// The state it is a copy of, to [`Hub::remember_listing`] its body as.
        version: u64,
    },
}

/// The answer to a join.
#[derive(Debug)]
pub enum JoinOutcome {
    /// In the session; the `joined` reply is already queued on the connection,
    /// ahead of anything else about the room.
    Joined,
    /// Refused with this error code and message, to send as `error` (the
    /// code's close follows, if it has one).
    Refused(ErrorCode, String),
    /// The resume token belongs to someone removed or a session that ended.
    Revoked(ServerFrame, u16),
}

/// What `GET /api/sessions` shows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id.
    pub id: String,
    /// Its members, oldest first, dropped ones whose slot is kept included.
    pub participants: Vec<ParticipantInfo>,
}

/// One member of a session, as `GET /api/sessions` lists it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ParticipantInfo {
    /// The member's user name.
    pub user: String,
    /// When they joined: RFC 3339 UTC, with milliseconds.
    pub joined_at: String,
    /// Whether their socket is up; `false` while a dropped member's slot is
    /// kept for a resume.
    pub connected: bool,
}

fn random_token() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Hub {
    /// An empty hub whose slots are kept `resume_window` after a drop, and
    /// whose joins need a token signed with `token_secret`, when there is one.
    pub fn new(resume_window: Duration, token_secret: Option<String>) -> Hub {
        Hub {
            state: Arc::new(Mutex::new(State::default())),
            resume_window,
            token_secret,
            max_queued_bytes: super::outbox::DEFAULT_MAX_QUEUED_BYTES,
            listed: Arc::default(),
        }
    }

    /// The state, to change it: whatever is done under this guard counts as
    /// a change for the listing's cache (a no-op counted is a cache miss; a
    /// change not counted would be a stale listing).
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        let mut st = self.look();
        st.version = st.version.wrapping_add(1);
        st
    }

    /// The state, to read it (or change what no listing shows).
    fn look(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection's queue: the sending side for the hub and the
    /// connection's reader, the receiving side for its writer.
    pub fn new_conn(&self) -> (Conn, Outbox) {
        let mut st = self.look();
        st.next_conn += 1;
        Conn::new(st.next_conn, self.max_queued_bytes)
    }

    /// A `join` on `conn` as `user` in `session`, with its token and resume
    /// token if any. On success the `joined` reply is queued on `conn` and the
    /// others are told; a refusal is for the caller to send.
    pub fn join(
        &self,
        conn: &Conn,
        session: &str,
        user: &str,
        token: Option<&str>,
        resume: Option<&str>,
    ) -> JoinOutcome {
        // With a secret, a join needs a token naming exactly this session
        // and user: nobody takes another's place, or joins where not asked.
        if let Some(secret) = &self.token_secret {
            let Some(token) = token else {
                return JoinOutcome::Refused(ErrorCode::Unauthorized, "no token".into());
            };
            if let Err(e) = crate::token::verify(secret.as_bytes(), token, session, user) {
                return JoinOutcome::Refused(ErrorCode::Unauthorized, e.to_string());
            }
        }
        let now = Instant::now();
        let mut st = self.lock();
        st.ended.retain(|_, until| *until > now);
        st.revoked.retain(|_, (_, until)| *until > now);
        if let Some(r) = resume
            && let Some((why, _)) = st.revoked.get(r)
        {
            return match why {
                Revoked::Removed => JoinOutcome::Revoked(ServerFrame::Removed, close::REMOVED),
                Revoked::Ended => JoinOutcome::Revoked(ServerFrame::Ended, close::ENDED),
            };
        }
        if st.ended.contains_key(session) {
            return JoinOutcome::Refused(
                ErrorCode::SessionEnded,
                format!("session {session:?} was ended"),
            );
        }
        let room = st.rooms.entry(session.to_owned()).or_default();
        let new_token = random_token();
        let (resumed, newcomer) = match room.members.get_mut(user) {
            Some(slot) => {
                let resumed = resume.is_some_and(|r| r == slot.resume_token);
                if let Some(old) = slot.conn.take()
                    && old.id != conn.id
                {
                    if !resumed {
                        old.push(Outgoing::frame(&ServerFrame::Error {
                            code: ErrorCode::Replaced,
                            message: "another connection joined as this user".into(),
                        }));
                    }
                    old.push(Outgoing::Close(
                        close::REPLACED,
                        "replaced by a newer connection".into(),
                    ));
                }
                slot.conn = Some(conn.clone());
                slot.generation += 1;
                slot.resume_token = new_token.clone();
                (resumed, false)
            }
            None => {
                let joined_at = SystemTime::now();
                room.members.insert(
                    user.to_owned(),
                    Slot {
                        user: user.into(),
                        joined_at,
                        since: rfc3339_ms(joined_at).into(),
                        resume_token: new_token.clone(),
                        conn: Some(conn.clone()),
                        generation: 0,
                    },
                );
                (false, true)
            }
        };
        let joined_at = room.members[user].since.to_string();
        let mut others: Vec<&Slot> = room
            .members
            .iter()
            .filter(|(u, _)| u.as_str() != user)
            .map(|(_, s)| s)
            .collect();
        others.sort_by_key(|s| s.joined_at);
        let participants = others
            .iter()
            .map(|s| Participant {
                user: s.user.to_string(),
                joined_at: s.since.to_string(),
            })
            .collect();
        // The reply is queued under the same lock that added the member, so
        // nothing about the room can reach the member before its `joined`
        // (the client would drop it as early, and the roster lacks it), and
        // everything after this snapshot reaches it after. Its text, as long
        // as the room, is made by the connection's writer, off the lock.
        conn.push(Outgoing::Frame(Box::new(ServerFrame::Joined {
            v: crate::protocol::PROTOCOL_VERSION,
            session: session.to_owned(),
            user: user.to_owned(),
            resumed,
            resume_token: new_token,
            resume_window_ms: self.resume_window.as_millis() as u64,
            participants,
        })));
        if newcomer {
            // Serialized once; every member's queue shares the bytes.
            let news = Outgoing::frame(&ServerFrame::ParticipantJoined {
                user: user.to_owned(),
                joined_at,
            });
            for s in &others {
                if let Some(c) = &s.conn {
                    c.push(news.clone());
                }
            }
        }
        JoinOutcome::Joined
    }

    /// The member leaves on purpose: gone at once, others told.
    pub fn leave(&self, conn: &Conn, session: &str, user: &str) {
        let mut st = self.lock();
        let Some(room) = st.rooms.get_mut(session) else {
            return;
        };
        if room
            .members
            .get(user)
            .and_then(|s| s.conn.as_ref())
            .map(|c| c.id)
            != Some(conn.id)
        {
            return;
        }
        room.members.remove(user);
        Self::broadcast_left(room, user);
        if room.members.is_empty() {
            st.rooms.remove(session);
        }
    }

    fn broadcast_left(room: &Room, user: &str) {
        let news = Outgoing::frame(&ServerFrame::ParticipantLeft {
            user: user.to_owned(),
        });
        for s in room.members.values() {
            if let Some(c) = &s.conn {
                c.push(news.clone());
            }
        }
    }

    /// The connection dropped without a leave: keep the slot for the resume
    /// window. Returns the generation to pass to [`Hub::expire`] when it ends.
    pub fn disconnected(&self, conn: &Conn, session: &str, user: &str) -> Option<u64> {
        let mut st = self.lock();
        let slot = st.rooms.get_mut(session)?.members.get_mut(user)?;
        if slot.conn.as_ref().map(|c| c.id) != Some(conn.id) {
            return None;
        }
        slot.conn = None;
        Some(slot.generation)
    }

    /// The resume window ended: if the member never came back, it is gone.
    pub fn expire(&self, session: &str, user: &str, generation: u64) {
        let mut st = self.lock();
        let Some(room) = st.rooms.get_mut(session) else {
            return;
        };
        let stale = room
            .members
            .get(user)
            .is_some_and(|s| s.conn.is_none() && s.generation == generation);
        if stale {
            room.members.remove(user);
            Self::broadcast_left(room, user);
            if room.members.is_empty() {
                st.rooms.remove(session);
            }
        }
    }

    /// Removes a member. Returns false if there is no such member.
    pub fn kick(&self, session: &str, user: &str) -> bool {
        let mut st = self.lock();
        let until = Instant::now() + self.resume_window;
        let Some(room) = st.rooms.get_mut(session) else {
            return false;
        };
        let Some(slot) = room.members.remove(user) else {
            return false;
        };
        if let Some(c) = &slot.conn {
            c.push(Outgoing::frame(&ServerFrame::Removed));
            c.push(Outgoing::Close(
                close::REMOVED,
                "removed by an administrator".into(),
            ));
        }
        Self::broadcast_left(room, user);
        if room.members.is_empty() {
            st.rooms.remove(session);
        }
        st.revoked
            .insert(slot.resume_token, (Revoked::Removed, until));
        true
    }

    /// Ends a session for everyone. Returns false if there is no such session.
    pub fn end(&self, session: &str) -> bool {
        let mut st = self.lock();
        let until = Instant::now() + self.resume_window;
        let Some(room) = st.rooms.remove(session) else {
            return false;
        };
        for (_, slot) in room.members {
            if let Some(c) = &slot.conn {
                c.push(Outgoing::frame(&ServerFrame::Ended));
                c.push(Outgoing::Close(close::ENDED, "session ended".into()));
            }
            st.revoked
                .insert(slot.resume_token, (Revoked::Ended, until));
        }
        st.ended.insert(session.to_owned(), until);
        true
    }

    /// Drops a member's socket without a word, as a broken network would.
    /// The slot stays for the resume window. Returns false if not connected.
    pub fn drop_connection(&self, session: &str, user: &str) -> bool {
        // The socket goes later; its `disconnected` is the change.
        let st = self.look();
        match st
            .rooms
            .get(session)
            .and_then(|r| r.members.get(user))
            .and_then(|s| s.conn.as_ref())
        {
            Some(c) => {
                c.push(Outgoing::Drop);
                true
            }
            None => false,
        }
    }

    /// The facts `GET /api/sessions` shows, copied out under the lock (names,
    /// times, flags: cheap); sorting, formatting and serializing happen after
    /// it is released, so a listing of thousands holds up no join or leave.
    pub fn listing(&self) -> Listing {
        Self::copy(&self.look())
    }

    /// The admin list's last body if nothing changed since it was made (a
    /// poll of an unchanged server costs no copy and no serializing), else
    /// a fresh copy.
    pub fn listing_or_cached(&self) -> AdminList {
        let st = self.look();
        let cached = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((version, body)) = cached.as_ref()
            && *version == st.version
        {
            return AdminList::Unchanged(body.clone());
        }
        drop(cached);
        AdminList::Changed {
            listing: Self::copy(&st),
            version: st.version,
        }
    }

    /// Keeps `body`, made from the listing of `version`, for the next poll.
    pub fn remember_listing(&self, version: u64, body: bytes::Bytes) {
        let mut cached = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        // Two polls may race; the one of the later state wins.
        if cached
            .as_ref()
            .is_none_or(|(v, _)| version.wrapping_sub(*v) as i64 > 0)
        {
            *cached = Some((version, body));
        }
    }

    fn copy(st: &State) -> Listing {
        Listing {
            sessions: st
                .rooms
                .iter()
                .map(|(id, room)| {
                    let members = room
                        .members
                        .values()
                        .map(|s| Listed {
                            user: s.user.clone(),
                            joined_at: s.joined_at,
                            since: s.since.clone(),
                            connected: s.conn.is_some(),
                        })
                        .collect();
                    (id.clone(), members)
                })
                .collect(),
        }
    }

    /// Every session with its members, as `GET /api/sessions` lists them
    /// (sessions by id, members oldest first).
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.listing().into_sessions()
    }
}

/// One member as the listing copies it (reference counts, no allocation).
#[derive(Debug)]
struct Listed {
    user: Arc<str>,
    joined_at: SystemTime,
    since: Arc<str>,
    connected: bool,
}

/// A copy of who is where, taken by [`Hub::listing`].
#[derive(Debug)]
pub struct Listing {
    /// Each session with its members, in name order.
    sessions: Vec<(String, Vec<Listed>)>,
}

impl Listing {
    /// Sessions by id, each one's members oldest first (stable: members who
    /// joined in the same instant stay in name order).
    fn sort(&mut self) {
        self.sessions.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, members) in &mut self.sessions {
            members.sort_by_key(|m| m.joined_at);
        }
    }

    /// Sessions by id, each one's participants oldest first.
    pub fn into_sessions(mut self) -> Vec<SessionInfo> {
        self.sort();
        self.sessions
            .into_iter()
            .map(|(id, members)| SessionInfo {
                id,
                participants: members
                    .into_iter()
                    .map(|m| ParticipantInfo {
                        user: m.user.to_string(),
                        joined_at: m.since.to_string(),
                        connected: m.connected,
                    })
                    .collect(),
            })
            .collect()
    }

    /// The admin API's answer, `{"sessions":[…]}` as [`SessionInfo`]s,
    /// serialized straight from the copy (no `serde_json::Value`, no owned
    /// strings in between).
    pub fn to_json(mut self) -> Vec<u8> {
        use serde::Serialize;
        #[derive(Serialize)]
        struct Body<'a> {
            sessions: Vec<Session<'a>>,
        }
        #[derive(Serialize)]
        struct Session<'a> {
            id: &'a str,
            participants: Vec<Participant<'a>>,
        }
        #[derive(Serialize)]
        struct Participant<'a> {
            user: &'a str,
            joined_at: &'a str,
            connected: bool,
        }
        self.sort();
        let body = Body {
            sessions: self
                .sessions
                .iter()
                .map(|(id, members)| Session {
                    id,
                    participants: members
                        .iter()
                        .map(|m| Participant {
                            user: &m.user,
                            joined_at: &m.since,
                            connected: m.connected,
                        })
                        .collect(),
                })
                .collect(),
        };
        // Strings and bools only: serializing cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// A fresh random admin token.
pub fn admin_token() -> String {
    random_token()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames queued for `outbox` so far, as text.
    async fn queued(outbox: &mut Outbox, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            match outbox.next().await {
                Some(Outgoing::Text(t)) => out.push(t.to_string()),
                Some(Outgoing::Frame(f)) => out.push(serde_json::to_string(&f).unwrap()),
                other => panic!("not a frame: {other:?}"),
            }
        }
        out
    }

    #[tokio::test]
    async fn the_joined_reply_is_queued_before_anything_else_about_the_room() {
        let hub = Hub::new(Duration::from_secs(30), None);
        let (a, mut a_out) = hub.new_conn();
        let (b, _b_out) = hub.new_conn();
        assert!(matches!(
            hub.join(&a, "s", "alice", None, None),
            JoinOutcome::Joined
        ));
        // Another join right after, before alice's connection task has done
        // anything: it may not overtake her reply.
        hub.join(&b, "s", "bob", None, None);
        let frames = queued(&mut a_out, 2).await;
        assert!(frames[0].contains(r#""type":"joined""#), "{frames:?}");
        assert!(
            frames[1].contains(r#""type":"participant_joined""#),
            "{frames:?}"
        );
    }

    #[tokio::test]
    async fn a_listing_is_a_copy_sorted_oldest_first() {
        let hub = Hub::new(Duration::from_secs(30), None);
        let mut keep = Vec::new();
        for (s, u) in [("b", "zed"), ("a", "yan"), ("b", "amy")] {
            let (c, o) = hub.new_conn();
            hub.join(&c, s, u, None, None);
            keep.push((c, o));
        }
        let listing = hub.listing();
        // The copy holds no lock: the hub goes on meanwhile.
        let (c, _o) = hub.new_conn();
        hub.join(&c, "a", "late", None, None);
        let body: serde_json::Value = serde_json::from_slice(&listing.to_json()).unwrap();
        let users = |i: usize| -> Vec<String> {
            body["sessions"][i]["participants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["user"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(body["sessions"][0]["id"], "a");
        assert_eq!(users(0), ["yan"]);
        assert_eq!(users(1), ["zed", "amy"]);
        let typed: Vec<SessionInfo> = serde_json::from_value(body["sessions"].clone()).unwrap();
        assert_eq!(typed[1].participants[0].joined_at.len(), 24);
        assert_eq!(hub.sessions()[0].participants.len(), 2);
    }

    /// The body a poll gets, through the cache, as the admin API serves it.
    fn polled(hub: &Hub) -> (bytes::Bytes, bool) {
        match hub.listing_or_cached() {
            AdminList::Unchanged(body) => (body, true),
            AdminList::Changed { listing, version } => {
                let body = bytes::Bytes::from(listing.to_json());
                hub.remember_listing(version, body.clone());
                (body, false)
            }
        }
    }

    #[test]
    fn a_cached_listing_never_hides_a_change() {
        let hub = Hub::new(Duration::from_secs(30), None);
        let (a, _ao) = hub.new_conn();
        hub.join(&a, "s", "alice", None, None);
        let (first, cached) = polled(&hub);
        assert!(!cached);
        let (again, cached) = polled(&hub);
        assert!(cached, "nothing changed: the same body");
        assert_eq!(again, first);
        // Connections that join nothing change nothing listed.
        let (b, _bo) = hub.new_conn();
        assert!(polled(&hub).1);
        let fresh = |hub: &Hub| {
            let (body, cached) = polled(hub);
            assert!(!cached);
            assert_eq!(body, bytes::Bytes::from(hub.listing().to_json()));
            String::from_utf8(body.to_vec()).unwrap()
        };
        hub.join(&b, "s", "bob", None, None);
        assert!(fresh(&hub).contains("bob"));
        let generation = hub.disconnected(&b, "s", "bob").unwrap();
        assert!(fresh(&hub).contains(r#""user":"bob","joined_at""#));
        assert!(!hub.listing().into_sessions()[0].participants[1].connected);
        hub.expire("s", "bob", generation);
        assert!(!fresh(&hub).contains("bob"));
        assert!(hub.kick("s", "alice"));
        assert_eq!(fresh(&hub), r#"{"sessions":[]}"#);
    }
}
