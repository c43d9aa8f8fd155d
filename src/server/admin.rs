//! The admin HTTP API (docs/EVENTS.md, "Admin API"), on the same port as the
//! WebSocket endpoint.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::AppState;
use super::hub::AdminList;

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", state.admin_token);
    // Constant time: how long the comparison takes says nothing about the token.
    headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| bool::from(v.as_bytes().ct_eq(expected.as_bytes())))
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "this call needs the admin token: Authorization: Bearer <token>".into(),
    )
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // Who is in which session is nobody else's business either.
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    // An unchanged server answers with the body it made for the last poll.
    // Otherwise only the copy is made under the hub's lock; the rest
    // (sorting, times, JSON) runs on a blocking thread, so a listing of
    // thousands delays neither a join nor another connection's heartbeat
    // on this worker.
    let (listing, version) = match state.hub.listing_or_cached() {
        AdminList::Unchanged(body) => return json_body(body),
        AdminList::Changed { listing, version } => (listing, version),
    };
    match tokio::task::spawn_blocking(move || Bytes::from(listing.to_json())).await {
        Ok(body) => {
            state.hub.remember_listing(version, body.clone());
            json_body(body)
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("listing failed: {e}"),
        ),
    }
}

fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn kick(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((session, user)): Path<(String, String)>,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    if state.hub.kick(&session, &user) {
        Json(json!({ "session": session, "kicked": user })).into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            format!("no participant {user:?} in session {session:?}"),
        )
    }
}

pub async fn end(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(session): Path<String>,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    if state.hub.end(&session) {
        Json(json!({ "session": session, "ended": true })).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no session {session:?}"))
    }
}

/// Not in the contract: drops a participant's socket without a close frame,
/// as a broken network would, so reconnect handling can be seen and tested.
pub async fn drop_connection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((session, user)): Path<(String, String)>,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    if state.hub.drop_connection(&session, &user) {
        Json(json!({ "session": session, "dropped": user })).into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            format!("no connected participant {user:?} in session {session:?}"),
        )
    }
}
