// The linearizability checker's public surface, for fault tests:
//
//   import { History, checkHistory, formatResult, sendV2, v2 } from '../linearizability/index.js';
//   const h = new History();
//   await sendV2(h, clientId, member.clientUrl, v2.cas('/k', 'v2', { prevValue: 'v1' }));
//   ...
//   const result = checkHistory(h.records());
//   expect(result.verdict, formatResult(result)).toBe('linearizable');
//
// or, with a client of your own, record each op by hand:
//
//   const op = h.invoke(clientId, v2.get('/k'));                  // just before sending
//   op.ok(outputFromV2(res.json, res.headers['x-etcd-index']));   // a success or a definite 100/101/105
//   op.unknown();                                                   // timeout, reset, 300/301, 5xx
//
// 'timed-out' means the search budget ran out: neither proven nor refuted.
// See design.md for the algorithm and what partitioning by key gives up.

export { History, hrtimeClock } from './history.js';
export type { ClientId, HistoryOptions, OpRecord, PendingOp } from './history.js';
export { DEFINITE_ERROR_CODES, outputFromV2, v2 } from './ops.js';
export type { Compare, ErrorOutput, Input, OkOutput, Output } from './ops.js';
export { checkDefaults, checkHistory } from './checker.js';
export type { CheckOptions, CheckResult, Failure, KeyFailure, KeyResult, Verdict } from './checker.js';
export { formatResult } from './format.js';
export { sendV2, v2Request } from './v2-client.js';
export type { SendOptions } from './v2-client.js';
