//! Terminal explorer: state, actions, panes, watcher, worker. Never computes latencies.
//! TEMPORARY entry point on the integration branch until the TUI lands.
pub fn run(_path: &std::path::Path, _opts: crate::run::RunOptions) -> color_eyre::Result<()> {
    Err(color_eyre::eyre::eyre!("TUI not merged yet"))
}
