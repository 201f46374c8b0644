/** The database schema as kysely row types: one schema for SQLite and PostgreSQL. */
import type { Generated } from 'kysely';

// Portable column conventions (migrations.ts): times are ms since the epoch in a 64-bit integer
// (parsed to number on PostgreSQL); booleans are 0/1 integers; JSON is text; secrets are text
// envelopes (secrets.ts) and lookup hashes are hex text. No engine-specific types leak out.

/** 0 or 1. */
export type Flag = 0 | 1;

export interface OrganisationsTable {
  id: string;
  cvr: string;
  name: string;
  created_at: number;
}

export interface OrganisationSettingsTable {
  organisation_id: string;
  private_allowed: Flag;
  /** JSON array of AuthenticatorKind. */
  separate_authenticators: string;
  preselected: string;
  updated_at: number;
  updated_by: string | null;
}

export interface AdminsTable {
  id: string;
  organisation_id: string;
  name: string;
  email: string;
  /** A Role other than plain user. */
  role: string;
  created_at: number;
}

export interface BusinessUsersTable {
  id: string;
  organisation_id: string;
  first_name: string;
  surname: string;
  email: string;
  phone: string | null;
  /** 'cpr' or 'birth-date': how the administrator identified the user. */
  identified_by: string;
  /** CPR sealed with SecretBox (context `cpr:<id>`). */
  cpr_sealed: string | null;
  /** HMAC lookup hash of the normalised CPR. */
  cpr_hash: string | null;
  birth_date: string | null;
  /** 'created' | 'activated' | 'blocked'. */
  status: string;
  separate_allowed: Flag;
  /** After activation: 'private' | 'separate'. */
  mitid_kind: string | null;
  /** The private MitID identity that proved who activated. */
  citizen_id: string | null;
  /** Separate MitID: its user ID as typed, and the uniqueness key. */
  user_id: string | null;
  user_id_key: string | null;
  password_hash: string | null;
  created_by: string | null;
  created_at: number;
  activated_at: number | null;
}

export interface CitizensTable {
  id: string;
  cpr_sealed: string;
  cpr_hash: string;
  birth_date: string;
  name: string;
  user_id: string;
  user_id_key: string;
  password_hash: string | null;
  created_at: number;
}

/** Every MitID user ID in use, citizens and separate ones alike: uniqueness across both. */
export interface UserIdsTable {
  user_id_key: string;
  /** 'citizen' | 'business-user'. */
  owner_kind: string;
  owner_id: string;
  created_at: number;
}

export interface ActivationLinksTable {
  id: string;
  business_user_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  superseded_at: number | null;
}

export interface ActivationCodesTable {
  id: string;
  business_user_id: string;
  /** 'handover' (shown to the administrator) or 'app' (for app activation). */
  purpose: string;
  code_hash: string;
  created_at: number;
  expires_at: number;
  tries: number;
  blocked_at: number | null;
  used_at: number | null;
  superseded_at: number | null;
}

export interface InventoryTable {
  id: string;
  organisation_id: string | null;
  /** 'code-display' | 'audio-reader' | 'chip'. */
  kind: string;
  serial: string;
  /** OTP seed sealed with SecretBox (context `seed:<kind>:<serial>`); null for chips. */
  seed_sealed: string | null;
  /** JSON of the public OTP parameters (algorithm, digits, period, t0). */
  params: string | null;
  /** 'available' | 'ordered' | 'bound' | 'retired'. */
  status: string;
  imported_at: number;
}

export interface DeviceOrdersTable {
  id: string;
  organisation_id: string;
  business_user_id: string;
  kind: string;
  inventory_id: string | null;
  ordered_by: string;
  /** 'ordered' | 'delivered' | 'cancelled'. */
  status: string;
  created_at: number;
  updated_at: number;
}

export interface AuthenticatorsTable {
  id: string;
  /** 'citizen' | 'business-user'. */
  owner_kind: string;
  owner_id: string;
  kind: string;
  serial: string;
  /** JSON binding material (never a plaintext secret; OTP bindings refer to the inventory row). */
  binding: string;
  /** JSON verifier state: last accepted step or counter, drift. */
  state: string;
  /** Wrong proofs in a row (reset by a good one). */
  fail_count: number;
  /** Wrong proofs since the last good one across temporary blocks (NIST SP 800-63B §5.2.2 ≤ 100). */
  total_fail_count: number;
  blocked_until: number | null;
  blocked_at: number | null;
  /** 'active' | 'revoked'. */
  status: string;
  created_at: number;
  updated_at: number;
}

export interface PhoneVerificationsTable {
  id: string;
  business_user_id: string;
  phone: string;
  code_hash: string;
  created_at: number;
  expires_at: number;
  tries: number;
  verified_at: number | null;
  superseded_at: number | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor_kind: string;
  actor_id: string | null;
  action: string;
  outcome: string;
  organisation_id: string | null;
  subject_id: string | null;
  serial: string | null;
  /** JSON object of non-secret details. */
  detail: string | null;
}

export interface OutboxTable {
  id: string;
  /** 'email' | 'sms'. */
  channel: string;
  recipient: string;
  subject: string | null;
  body: string;
  html: string | null;
  idempotency_key: string;
  /** 1: the body holds a secret (an activation link) and is cleared once sent. */
  sensitive: Flag;
  /** 'pending' | 'sending' | 'sent' | 'failed'. */
  status: string;
  attempts: number;
  next_attempt_at: number;
  claimed_by: string | null;
  claimed_until: number | null;
  attempt_id: string | null;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

export interface RateLimitsTable {
  key: string;
  window_start: number;
  count: number;
}

export interface MailboxTable {
  id: string;
  /** The Message-ID header without angle brackets: the mailbox keeps one mail per id. */
  message_id: string;
  envelope_from: string;
  /** JSON array of addresses. */
  envelope_to: string;
  from_header: string | null;
  to_header: string | null;
  subject: string | null;
  text: string | null;
  html: string | null;
  /** JSON object of selected headers. */
  headers: string;
  size: number;
  received_at: number;
}

export interface MitidSharesTable {
  id: string;
  /** The business user holding the separate MitID. */
  business_user_id: string;
  /** The organisation it is shared with. */
  organisation_id: string;
  requested_at: number;
  issuer_approved_by: string | null;
  issuer_approved_at: number | null;
  receiver_approved_by: string | null;
  receiver_approved_at: number | null;
  revoked_at: number | null;
}

/** An activation or login in progress: the step state between requests. */
export interface FlowSessionsTable {
  id: string;
  /** Keyed hash of the session token the client holds. */
  token_hash: string;
  /** 'activation' | 'login'. */
  kind: string;
  /** The business user (or, for a private MitID login, the citizen) it is about. */
  subject_id: string;
  /** JSON step state (never a plaintext secret). */
  state: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  ended_at: number | null;
}

/** Bearer tokens of administrators on the HTTP API (kept only as keyed hashes). */
export interface AdminTokensTable {
  id: string;
  admin_id: string;
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
}

/** An app activation in progress: activation code, then the temporary PIN by SMS. */
export interface AppActivationsTable {
  id: string;
  /** 'citizen' | 'business-user'. */
  owner_kind: string;
  owner_id: string;
  user_id_key: string;
  /** 'private' | 'separate'. */
  mitid: string;
  /** 'new-device' | 'private-phone'. */
  placement: string;
  /** E.164: where the temporary PIN goes. */
  phone: string;
  code_hash: string;
  code_tries: number;
  token_hash: string | null;
  pin_hash: string | null;
  pin_tries: number;
  pin_expires_at: number | null;
  pin_ok_at: number | null;
  created_at: number;
  expires_at: number;
  blocked_at: number | null;
  completed_at: number | null;
  superseded_at: number | null;
}

/** The bearer tokens apps authenticate with (keyed hashes). */
export interface AppTokensTable {
  token_hash: string;
  authenticator_id: string;
  created_at: number;
}

/** An approval request pushed to an identity's apps. */
export interface AppRequestsTable {
  id: string;
  owner_kind: string;
  owner_id: string;
  /** 'login' | 'activation-start'. */
  purpose: string;
  /** The login session waiting for the answer. */
  session_id: string;
  /** base64url of the exact bytes the app signs. */
  request: string;
  /** JSON of what the app shows. */
  display: string;
  /** Keyed hashes of the QR channel secret and of the 4-digit code. */
  channel_hash: string;
  code_hash: string;
  created_at: number;
  expires_at: number;
  /** 'approve' | 'reject' once answered. */
  decision: string | null;
  answered_by: string | null;
  answered_at: number | null;
}

/** The whole database. */
export interface Database {
  organisations: OrganisationsTable;
  organisation_settings: OrganisationSettingsTable;
  admins: AdminsTable;
  business_users: BusinessUsersTable;
  citizens: CitizensTable;
  user_ids: UserIdsTable;
  activation_links: ActivationLinksTable;
  activation_codes: ActivationCodesTable;
  inventory: InventoryTable;
  device_orders: DeviceOrdersTable;
  authenticators: AuthenticatorsTable;
  phone_verifications: PhoneVerificationsTable;
  audit_log: AuditLogTable;
  outbox: OutboxTable;
  rate_limits: RateLimitsTable;
  mailbox: MailboxTable;
  mitid_shares: MitidSharesTable;
  flow_sessions: FlowSessionsTable;
  admin_tokens: AdminTokensTable;
  app_activations: AppActivationsTable;
  app_tokens: AppTokensTable;
  app_requests: AppRequestsTable;
}

/** Names of every table, in creation order. */
export const TABLES = [
  'organisations',
  'organisation_settings',
  'admins',
  'business_users',
  'citizens',
  'user_ids',
  'activation_links',
  'activation_codes',
  'inventory',
  'device_orders',
  'authenticators',
  'phone_verifications',
  'audit_log',
  'outbox',
  'rate_limits',
  'mailbox',
  'mitid_shares',
  'flow_sessions',
  'admin_tokens',
  'app_activations',
  'app_tokens',
  'app_requests',
] as const satisfies readonly (keyof Database)[];
