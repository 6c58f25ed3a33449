/** The secrets every bench process is started with, and the bench's HTTP calls present. */
export const PG_SECRET = 'bench-pg-secret';
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
