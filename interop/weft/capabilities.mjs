// What the weft interop peer (peer.mjs and the scenario programs it dispatches to) speaks: the
// weft row of interop/run.mjs's capability table, which decides which cases of the matrix exist.
// When weft gains a transport or a secure channel, wire it into peer.mjs (listen address, node
// options, identify's observed-address check) and add it here: its cases against go and rust
// then run in `npm test`. QUIC v1 cases are recorded with security `tls` (QUIC carries TLS 1.3
// itself); they exist when both peers list `quic-v1` in `transports`.
export const WEFT_CAPABILITIES = Object.freeze({
  transports: Object.freeze(['tcp', 'ws', 'quic-v1']),
  security: Object.freeze(['noise', 'tls']),
})
