/** Our side of a level's CRYPTO stream: everything written is kept until the level is discarded (a handshake is a few KiB). */
export declare class CryptoSend {
    #private;
    write(bytes: Uint8Array): void;
    get hasData(): boolean;
    /** Bytes written and never sent. */
    get unsent(): number;
    /** The next CRYPTO frame whose encoding fits `room` bytes (retransmissions first), or undefined. */
    poll(room: number): {
        type: 'crypto';
        offset: number;
        data: Uint8Array;
    } | undefined;
    /** A frame we sent was lost: its range goes out again. */
    onLost(offset: number, length: number): void;
    /** Send everything already sent again (a PTO probe or a Retry). */
    resendAll(): void;
}
/** The peer's side of a level's CRYPTO stream: out-of-order data kept within `maxBuffer` bytes of the read offset. */
export declare class CryptoRecv {
    #private;
    constructor(maxBuffer: number, maxFragments: number);
    /** A CRYPTO frame arrived; returns the bytes now contiguous from the read offset (possibly empty). */
    insert(offset: number, data: Uint8Array): Uint8Array;
}
