import { EventQueue } from '../../core/event-queue.js';
//# sourceMappingURL=state.js.map