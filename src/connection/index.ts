export { Connection, NOISE_PROTOCOL, YAMUX_PROTOCOL } from './connection.js'
export type { ConnectionOptions, ConnectionEvent, ConnectionErrorCode } from './connection.js'
