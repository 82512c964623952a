import { sendText } from '../http';
import type { ApiRoute } from './router';

/** The authenticated resources under /API, beyond the token endpoints. */
export const API_ROUTES: readonly ApiRoute[] = [
  {
    pattern: ['whoami'],
    methods: ['GET', 'HEAD'],
    handle: ({ res, identity }) => sendText(res, 200, identity.effective.name),
  },
];
