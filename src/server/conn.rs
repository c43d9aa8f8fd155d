//! One client connection on the reference server: read frames, act on the hub,
//! write what the hub queues for us.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;

use super::admit::Abort;
use super::burst::BurstLog;
use super::hub::{Conn, Hub, JoinOutcome, Outbox, Outgoing};
use super::outbox::MAX_QUEUED_FRAMES;
use crate::protocol::{self, ClientFrame, ErrorCode, PROTOCOL_VERSION, ServerFrame, close};

/// Limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_frame_bytes: usize,
    /// A client that sends nothing for this long is treated as gone (its slot
    /// is kept for the resume window like any other drop).
    pub client_silence: Duration,
}

enum Step {
    Continue,
    /// Stop reading; the writer finishes what is queued.
    Stop,
}

pub async fn serve(
    socket: WebSocket,
    hub: Hub,
    limits: ConnLimits,
    mut shutdown: watch::Receiver<bool>,
    cut_offs: BurstLog,
    abort: Abort,
) {
    let (conn, mut outbox) = hub.new_conn();
    let (mut sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(async move {
        while let Some(out) = outbox.next().await {
            let cost = Outbox::cost(&out);
            match out {
                Outgoing::Text(text) => {
                    let send = async { sink.send(Message::Text(text)).await.is_ok() };
                    if !outbox.write(cost, send).await {
                        return;
                    }
                }
                Outgoing::Frame(frame) => {
                    // Server frames are plain data: they always serialize.
                    let text = serde_json::to_string(&frame).unwrap_or_default();
                    let send = async { sink.send(Message::Text(text.into())).await.is_ok() };
                    if !outbox.write(cost, send).await {
                        return;
                    }
                }
                Outgoing::Flush => {
                    if !outbox
                        .write(cost, async { sink.flush().await.is_ok() })
                        .await
                    {
                        return;
                    }
                }
                Outgoing::Close(code, reason) => {
                    let close = async {
                        let frame = CloseFrame {
                            code,
                            reason: reason.into(),
                        };
                        let _ = sink.send(Message::Close(Some(frame))).await;
                        let _ = sink.close().await;
                        false
                    };
                    outbox.write(cost, close).await;
                    return;
                }
                Outgoing::Drop => return,
            }
        }
    });
    let reply = |f: ServerFrame| conn.push(Outgoing::frame(&f));
    let mut member: Option<(String, String)> = None;
    let mut writer_done = false;
    loop {
        let next = tokio::select! {
            _ = shutdown.changed() => {
                conn.push(Outgoing::Close(close::GOING_AWAY, "server shutting down".into()));
                break;
            }
            _ = &mut writer => {
                writer_done = true;
                break;
            }
            n = tokio::time::timeout(limits.client_silence, stream.next()) => n,
        };
        let msg = match next {
            Err(_) => break, // silent for too long
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(m))) => m,
        };
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(b) => {
                refuse(
                    &conn,
                    ErrorCode::BadFrame,
                    format!(
                        "binary frames are not part of the protocol ({} bytes)",
                        b.len()
                    ),
                );
                break;
            }
            Message::Close(_) => break,
            // The WebSocket layer has queued the pong itself; writing it out
            // through our queue makes a ping flood from a client that does
            // not read count against its bound like any other frame.
            Message::Ping(_) => {
                conn.push(Outgoing::Flush);
                continue;
            }
            Message::Pong(_) => continue,
        };
        if text.len() > limits.max_frame_bytes {
            refuse(
                &conn,
                ErrorCode::FrameTooLarge,
                format!(
                    "frame of {} bytes is over the {}-byte limit",
                    text.len(),
                    limits.max_frame_bytes
                ),
            );
            break;
        }
        let frame: ClientFrame = match serde_json::from_str(text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                refuse(
                    &conn,
                    ErrorCode::BadFrame,
                    format!("not a calltop message: {e}"),
                );
                break;
            }
        };
        let step = match (frame, &member) {
            (ClientFrame::Join { v, .. }, _) if v != PROTOCOL_VERSION => {
                refuse(
                    &conn,
                    ErrorCode::UnsupportedVersion,
                    format!("this server speaks protocol version {PROTOCOL_VERSION}, not {v}"),
                );
                Step::Stop
            }
            (
                ClientFrame::Join {
                    session,
                    user,
                    token,
                    resume,
                    ..
                },
                None,
            ) => {
                if !protocol::valid_name(&session) || !protocol::valid_name(&user) {
                    refuse(
                        &conn,
                        ErrorCode::InvalidName,
                        "session and user must be 1 to 64 characters without control characters"
                            .into(),
                    );
                    Step::Stop
                } else {
                    match hub.join(&conn, &session, &user, token.as_deref(), resume.as_deref()) {
                        JoinOutcome::Joined => {
                            member = Some((session, user));
                            Step::Continue
                        }
                        JoinOutcome::Refused(code, message) => {
                            refuse(&conn, code, message);
                            Step::Stop
                        }
                        JoinOutcome::Revoked(f, code) => {
                            reply(f);
                            conn.push(Outgoing::Close(code, "no longer in the session".into()));
                            Step::Stop
                        }
                    }
                }
            }
            (ClientFrame::Join { .. }, Some(_)) => {
                reply(ServerFrame::Error {
                    code: ErrorCode::UnexpectedMessage,
                    message: "already joined on this connection".into(),
                });
                Step::Continue
            }
            (ClientFrame::Ping { seq }, _) => {
                reply(ServerFrame::Pong { seq });
                Step::Continue
            }
            (ClientFrame::Leave, Some((session, user))) => {
                hub.leave(&conn, session, user);
                member = None;
                reply(ServerFrame::Left);
                conn.push(Outgoing::Close(close::NORMAL, "left".into()));
                Step::Stop
            }
            (ClientFrame::Leave, None) => {
                reply(ServerFrame::Error {
                    code: ErrorCode::UnexpectedMessage,
                    message: "leave before join".into(),
                });
                Step::Continue
            }
        };
        if let Step::Stop = step {
            break;
        }
    }
    if conn.is_cut_off() {
        // Reset, not closed: what is unsent is dropped at once, and the
        // client, which does not read, learns from its next write.
        abort.set();
        cut_offs.note(|| {
            tracing::warn!(
                target: "calltop::server",
                "cut off a client that stopped reading (over {MAX_QUEUED_FRAMES} frames or {} KiB queued for it)",
                hub.max_queued_bytes / 1024
            )
        });
    }
    if let Some((session, user)) = member
        && let Some(generation) = hub.disconnected(&conn, &session, &user)
    {
        let hub = hub.clone();
        tokio::spawn(async move {
            tokio::time::sleep(hub.resume_window).await;
            hub.expire(&session, &user, generation);
        });
    }
    // Let the writer flush a final error or close; it ends once every sender is gone.
    drop(conn);
    // A writer stuck sending to a client that stopped reading would keep the
    // socket open for good: after the grace period, it is stopped.
    if !writer_done
        && tokio::time::timeout(Duration::from_secs(2), &mut writer)
            .await
            .is_err()
    {
        writer.abort();
    }
}

fn refuse(conn: &Conn, code: ErrorCode, message: String) {
    conn.push(Outgoing::frame(&ServerFrame::Error {
        code,
        message: message.clone(),
    }));
    let close_code = code.close_code().unwrap_or(close::BAD_FRAME);
    let mut reason = message;
    reason.truncate(100); // close reasons must fit in a control frame
    while !reason.is_char_boundary(reason.len()) {
        reason.pop();
    }
    conn.push(Outgoing::Close(close_code, reason));
}
