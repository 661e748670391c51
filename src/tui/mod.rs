//! Terminal explorer: state, actions, panes, watcher, worker. Never computes latencies.
