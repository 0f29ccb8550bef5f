import type { Frame } from '../types.js';
type NewCidFrame = Extract<Frame, {
    type: 'new_connection_id';
}>;
export interface IssuedCid {
    readonly cid: Uint8Array;
    readonly token: Uint8Array;
    readonly sequenceNumber: number;
}
/** The ids we issued and the peer may use; `onIssued` / `onRetired` tell the endpoint. */
export declare class LocalCids {
    #private;
    constructor(initial: Uint8Array, initialToken: Uint8Array, make: (seq: number) => IssuedCid);
    /** How many ids we keep issued (min of the peer's active_connection_id_limit and ours); issues new ones up to it. */
    setLimit(limit: number): IssuedCid[];
    /** The peer's RETIRE_CONNECTION_ID: returns the retired id and the ones issued to replace it. */
    onRetire(seq: number, packetDcid: Uint8Array): {
        retired: IssuedCid | undefined;
        issued: IssuedCid[];
    };
    /** The next NEW_CONNECTION_ID frame to send, if it fits `room`. */
    poll(room: number): NewCidFrame | undefined;
    get hasPending(): boolean;
    onLost(f: NewCidFrame): void;
    /** Every id still issued (for the endpoint at close). */
    get all(): IssuedCid[];
}
/** The ids the peer issued to us: the current Destination Connection ID and the spare ones. */
export declare class PeerCids {
    #private;
    constructor(initial: Uint8Array, limit: number, maxPending: number);
    get current(): Uint8Array;
    get currentSequence(): number;
    /** The id of sequence 0 changed (client: the server's Source Connection ID, or a Retry's). */
    setInitial(cid: Uint8Array): void;
    /** The server's stateless_reset_token transport parameter: the token of sequence 0. */
    setInitialToken(token: Uint8Array): void;
    /** The peer's NEW_CONNECTION_ID; returns the new reset token to watch, if any. */
    onNewConnectionId(f: NewCidFrame): Uint8Array | undefined;
    /** Switch to an unused id and retire the current one; false when the peer gave us no spare. */
    rotate(): boolean;
    /** The next RETIRE_CONNECTION_ID frame to send. */
    poll(room: number): Extract<Frame, {
        type: 'retire_connection_id';
    }> | undefined;
    get hasPending(): boolean;
    onLost(seq: number): void;
    /** The stateless reset tokens of the peer's ids we hold. */
    tokens(): IterableIterator<Uint8Array>;
    get spare(): number;
}
export {};
