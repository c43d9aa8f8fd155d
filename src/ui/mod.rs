//! The dashboard (being built: see issue 3).

use crate::config::Config;
use crate::exit::Exit;

pub async fn run(_config: Config) -> anyhow::Result<Exit> {
    eprintln!("calltop: the dashboard is not built yet; use --headless");
    Ok(Exit::Usage)
}
