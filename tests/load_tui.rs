//! The real `calltop load` screen in tmux against a reference server the
//! test starts on 127.0.0.1: the counts fill in as participants join, `q`
//! stops the run early and SIGTERM does too; either way the run settles, is
//! checked, the terminal is restored and the summary is on the normal screen.

use std::net::SocketAddr;

mod tui_support;

use calltop::server::{self, ServerConfig, ServerHandle};
use tui_support::{Tmux, have_tmux};

const TOKEN: &str = "load-tui-admin-token";

fn start_server(rt: &tokio::runtime::Runtime) -> ServerHandle {
    rt.block_on(server::start(ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_token: Some(TOKEN.into()),
        ..ServerConfig::default()
    }))
    .unwrap()
}

fn load(name: &str, server: &ServerHandle, prefix: &str) -> Tmux {
    let args: Vec<String> = [
        // No config file of the machine's (env execs calltop: the pane's pid stays its).
        "env",
        "HOME=/nonexistent",
        "XDG_CONFIG_HOME=/nonexistent",
        env!("CARGO_BIN_EXE_calltop"),
        "load",
        "--server",
        &server.ws_url(),
        "--admin-token",
        TOKEN,
        "--sessions",
        "2",
        "--per-session",
        "2",
        "--prefix",
        prefix,
        // Far longer than the test: only a stop ends it.
        "--duration",
        "1h",
    ]
    .map(str::to_owned)
    .to_vec();
    Tmux::start(name, 100, 30, &args)
}

#[test]
fn q_and_sigterm_stop_the_run_and_the_summary_lands_on_the_restored_screen() {
    if !have_tmux("q_and_sigterm_stop_the_run_and_the_summary_lands_on_the_restored_screen") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = start_server(&rt);

    let tmux = load("load-q", &server, "q");
    let pid = tmux.pid();
    let live = tmux.wait("everyone joined, running", |s| {
        s.contains("joined 4 of 4") && s.contains(" RUNNING ")
    });
    assert!(live.contains("Over time, a column a second"), "{live}");
    assert!(live.contains("q stop now"), "{live}");
    tmux.keys("q");
    let done = tmux.wait_for("verdict: pass (exit 0)");
    assert!(done.contains("roster mismatches: none"), "{done}");
    assert!(
        !done.contains("Over time"),
        "the load screen is gone: {done}"
    );
    assert!(
        done.contains("stopped early (q, Ctrl-C or a signal)"),
        "{done}"
    );
    assert_eq!(tmux.wait_exit(pid), 0);
    drop(tmux);

    let tmux = load("load-term", &server, "term");
    let pid = tmux.pid();
    tmux.wait_for("joined 4 of 4");
    let status = std::process::Command::new("kill")
        .args(["-s", "TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let done = tmux.wait_for("verdict: pass (exit 0)");
    assert!(
        done.contains("stopped early (q, Ctrl-C or a signal)"),
        "{done}"
    );
    assert_eq!(tmux.wait_exit(pid), 0);
    rt.block_on(server.shutdown());
}
