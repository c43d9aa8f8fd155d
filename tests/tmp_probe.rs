use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
#[tokio::test]
async fn probe() {
    let srv = calltop::server::start(calltop::server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_queued_bytes: 16 * 1024,
        ..Default::default()
    })
    .await
    .unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(srv.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        srv.ws_url(),
        tokio_tungstenite::MaybeTlsStream::Plain(tcp),
    )
    .await
    .unwrap();
    ws.send(Message::text(
        r#"{"type":"join","v":1,"session":"f","user":"x"}"#,
    ))
    .await
    .unwrap();
    for seq in 0..20_000u64 {
        let r: Result<(), _> = async {
            ws.feed(Message::text(format!(r#"{{"type":"ping","seq":{seq}}}"#)))
                .await?;
            if seq % 5 == 0 {
                ws.flush().await?;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok::<_, tokio_tungstenite::tungstenite::Error>(())
        }
        .await;
        if r.is_err() {
            eprintln!("CUT at {seq}");
            return;
        }
        if seq % 1000 == 0 {
            eprintln!("seq {seq} open={}", srv.open_connections());
        }
    }
}
