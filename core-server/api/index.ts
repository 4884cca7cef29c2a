// The core's client API: the v2 HTTP app, and the pure request parsing and
// response rendering the proxy reuses to answer exactly as etcd does.

export { buildCoreApp } from './app.js';
export type { CoreAppOptions } from './app.js';
export {
  parseV2KeyRequest,
  parseKeyRequest,
  parseForm,
  resolveTarget,
  isKeysPath,
  toWriteRequest,
  methodNotAllowed,
  textAnswer,
  KEYS_PREFIX,
  FORM_BYTES_MAX,
  KEYS_ALLOW,
  NOT_FOUND,
  BAD_REQUEST,
} from './v2-request.js';
export type { RawV2Request, V2KeyRequest, GetKeyRequest, WriteKeyRequest, HttpAnswer, ResolvedTarget } from './v2-request.js';
export { eventBody, errorBody, eventStatus, CORS_HEADERS, H_CLUSTER_ID, H_ETCD_INDEX, H_RAFT_INDEX, H_RAFT_TERM } from './v2-response.js';
export { goJson } from './go-json.js';
export { ETCD_SERVER_VERSION, ETCD_CLUSTER_VERSION } from './info-routes.js';
export { WATCH_BUFFER_BYTES_MAX } from './watch-response.js';
