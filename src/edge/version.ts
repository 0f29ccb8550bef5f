/** weft's version, used in identify's agentVersion (`weft/<version>`). Kept in step with package.json by a test. */
export const VERSION = '0.1.0'
/** The identify `agentVersion` weft announces by default: `weft/<VERSION>`. */
export const AGENT_VERSION = `weft/${VERSION}`
