// Connection limiting and load shedding: slots granted or refused at once.

export { ConnectionLimiter, InflightLimiter, SlotLimiter, WatcherLimiter } from './slot-limiter.js';
export type { Grant, Refused, SlotLimits } from './slot-limiter.js';
export { LIMIT_REASONS, isPerClient, refusal } from './refusal.js';
export type { LimitReason, Refusal } from './refusal.js';
