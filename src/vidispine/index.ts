export { createTokenMinter, type MinterOptions } from './minter';
export { createTransport, type HttpAnswer, type VidispineTransport } from './transport';
export { createTokenChecker, whoami } from './whoami';
export * from './types';
export * from './endpoints';
export * from './failures';
