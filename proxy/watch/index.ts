// Watch multiplexing: one upstream stream → event ring → local watcher hub.

export { UpstreamView } from './upstream-view.js';
export type { UpstreamViewOptions, UpstreamViewStats, ViewListener } from './upstream-view.js';
export { checkWatchOrder, expectedEvents, liveMatches } from './watch-order.js';
export type { WatchRecord, WatchViolation } from './watch-order.js';
