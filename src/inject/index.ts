/** The sidecar injection webhook: what pods ask for, the sidecar, the patch, the HTTPS server. */
export { CertificateError, type LoadedCertificate, loadCertificate } from './certificate';
export { certificateFields, createWebhook, type Webhook } from './webhook';
