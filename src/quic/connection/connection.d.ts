import { type StreamId } from '../streams/index.js';
import { type TransportParameters } from '../transport-params.js';
import { type QuicCloseInfo, type QuicConnectionEvent, type QuicConnectionOptions, type QuicConnectionState, type QuicConnectionStats } from './options.js';
/** One QUIC connection (see the file comment and spec/quic-connection.md). */
export declare class QuicConnection {
    #private;
    constructor(o: QuicConnectionOptions);
    get state(): QuicConnectionState;
    get isClosed(): boolean;
    get isHandshakeComplete(): boolean;
    get isHandshakeConfirmed(): boolean;
    get role(): 'client' | 'server';
    /** The negotiated ALPN protocol (known on the server at the ClientHello, on the client at EncryptedExtensions). */
    get alpn(): string | undefined;
    /** The peer's transport parameters, once the handshake completed. */
    get peerTransportParameters(): TransportParameters | undefined;
    /** Our first connection id (sequence 0). */
    get localConnectionId(): Uint8Array;
    /** The Destination Connection ID we send to now. */
    get remoteConnectionId(): Uint8Array;
    /** Why the connection closed (or is closing). */
    get closeInfo(): QuicCloseInfo | undefined;
    get stats(): Readonly<QuicConnectionStats>;
    /** RTT estimates (ms) and the congestion window (bytes). */
    get pathStats(): {
        smoothedRtt: number;
        minRtt: number;
        congestionWindow: number;
        bytesInFlight: number;
    };
    /** The 1-RTT key phase (flips on every key update). */
    get keyPhase(): 0 | 1;
    /** One UDP payload from the peer (coalesced packets; undecryptable ones are dropped and counted). */
    handleDatagram(now: number, datagram: Uint8Array): void;
    /** The next UDP payload to send, or undefined when nothing is due now. */
    pollTransmit(now: number): Uint8Array | undefined;
    /** The next event, or undefined. */
    pollEvent(): QuicConnectionEvent | undefined;
    /** When `handleTimeout` must be called next (the driver's monotonic ms), or undefined. */
    pollTimeout(): number | undefined;
    /** The timer fired (call at or after `pollTimeout()`; earlier calls do nothing harmful). */
    handleTimeout(now: number): void;
    /** Opens a stream; undefined at the peer's stream limit (a 'streams-available' stream event follows). */
    openStream(bidirectional?: boolean): StreamId | undefined;
    /** Queues bytes on a stream; returns how many were taken (a short write waits for a 'writable' stream event). */
    write(id: StreamId, data: Uint8Array): number;
    /** Ends our sending part (FIN). */
    finish(id: StreamId): void;
    /** Abandons our sending part (RESET_STREAM). */
    resetStream(id: StreamId, errorCode: number): void;
    /** Asks the peer to stop sending (STOP_SENDING). */
    stopSending(id: StreamId, errorCode: number): void;
    /** Reads up to `max` bytes; `fin` once the stream's end was read. */
    read(id: StreamId, max?: number): {
        data: Uint8Array;
        fin: boolean;
    };
    /** Sends a PING (keep-alive, or to elicit an ACK). */
    ping(): void;
    /** Starts a 1-RTT key update (RFC 9001 §6); false when not allowed yet (before confirmation, or the last update not yet acknowledged). */
    updateKeys(): boolean;
    /** Moves to a spare connection id of the peer and retires the current one (RFC 9000 §5.1.2); false without a spare. */
    rotateConnectionId(): boolean;
    /**
     * Closes the connection (RFC 9000 §10.2): CONNECTION_CLOSE with `errorCode` (an application code
     * by default), then the closing state for three PTOs; 'closing' then 'closed' events.
     */
    close(errorCode?: number, reason?: string, application?: boolean): void;
}
