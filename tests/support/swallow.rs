//! A deliberately wrong server: a WebSocket relay on 127.0.0.1 in front of
//! the real reference server that passes every frame both ways except the
//! first `participant_joined` it sees, which never reaches its client. The
//! server's own list stays right, so a roster check must catch it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

pub struct Swallow {
    pub addr: SocketAddr,
    /// Set once the frame has been swallowed.
    pub swallowed: Arc<AtomicBool>,
    accept: JoinHandle<()>,
}

impl Drop for Swallow {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn is_participant_joined(m: &Message) -> bool {
    let Message::Text(t) = m else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(t.as_str())
        .is_ok_and(|v| v["type"] == "participant_joined")
}

impl Swallow {
    pub async fn start(upstream: SocketAddr) -> Swallow {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let swallowed = Arc::new(AtomicBool::new(false));
        let flag = swallowed.clone();
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(client) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let Ok((server, _)) =
                        tokio_tungstenite::connect_async(format!("ws://{upstream}/ws")).await
                    else {
                        return;
                    };
                    let (mut to_client, mut from_client) = client.split();
                    let (mut to_server, mut from_server) = server.split();
                    let up = async {
                        while let Some(Ok(m)) = from_client.next().await {
                            if to_server.send(m).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = async {
                        while let Some(Ok(m)) = from_server.next().await {
                            if is_participant_joined(&m)
                                && flag
                                    .compare_exchange(
                                        false,
                                        true,
                                        Ordering::SeqCst,
                                        Ordering::SeqCst,
                                    )
                                    .is_ok()
                            {
                                continue;
                            }
                            if to_client.send(m).await.is_err() {
                                break;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
            }
        });
        Swallow {
            addr,
            swallowed,
            accept,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}
