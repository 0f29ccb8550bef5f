export const DEFAULT_CONNECTION_LIMITS = {
    maxCryptoBuffer: 64 * 1024,
    maxCryptoFragments: 256,
    activeConnectionIdLimit: 4,
    maxIssuedConnectionIds: 4,
    maxPendingRetirements: 64,
    idleTimeout: 30_000,
    maxDatagramSize: 1200,
    maxUdpPayloadSize: 1452,
    keyUpdateInterval: 2 ** 22,
    maxCloseRetransmits: 8,
    maxUndecryptablePackets: 2 ** 20,
};
//# sourceMappingURL=options.js.map