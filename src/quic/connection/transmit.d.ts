import type { Frame } from '../types.js';
import type { ConnState } from './state.js';
/** Drops a space's keys and state (RFC 9001 §4.9). */
export declare function discardSpace(s: ConnState, name: 'initial' | 'handshake', now: number): void;
/** Re-evaluates the server's three-times limit (RFC 9000 §8.1) and tells recovery when it changes. */
export declare function amplificationBudget(s: ConnState, now: number): number;
export declare const isStreamFrame: (f: Frame) => boolean;
/** The next datagram to send, or undefined. */
export declare function buildDatagram(s: ConnState, now: number): Uint8Array | undefined;
/** The CONNECTION_CLOSE datagram of the closing state (RFC 9000 §10.2.1), at every level with keys. */
export declare function buildCloseDatagram(s: ConnState, now: number): Uint8Array | undefined;
/** A local key update (RFC 9001 §6.1) when the current keys protected `keyUpdateInterval` packets; returns whether it happened. */
export declare function maybeUpdateKeys(s: ConnState, force?: boolean): boolean;
