/** What a user administrator does (MITID.md, "MitID Erhverv"): create users, resend the activation e-mail, show an activation code. */
import { enqueue } from './outbox.js';
import { can, type Action } from './roles.js';
import type { Admin, BusinessUser, NewBusinessUser, Repositories } from './store/repositories.js';
import type { Store } from './store/store.js';
import { ActivationError } from './violations.js';

/** An administrator tried something their role or organisation does not allow. */
export class ForbiddenError extends ActivationError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** Where activation links point and who the e-mails come from. */
export interface ActivationMailOptions {
  /** The service's public base URL; links are `<base>/activate/<token>`. */
  readonly baseUrl: string;
}

/** The result of creating a user. */
export interface CreatedUser {
  readonly user: BusinessUser;
  /** The outbox id of the activation e-mail. */
  readonly emailId: string;
  /**
   * For a user created by date of birth: the activation code the administrator hands over
   * (MITID.md). Shown once; only its hash is kept.
   */
  readonly activationCode?: string;
}

function formatDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The activation e-mail, in Danish and English: names the organisation and the user
 * administrators to contact (the guide: "you can find information about the user administrator
 * in the activation email"), the link and its last day.
 */
export function activationEmail(input: {
  user: BusinessUser;
  organisationName: string;
  administrators: readonly Admin[];
  link: string;
  expiresAt: number;
  needsCode: boolean;
}): { subject: string; text: string; html: string } {
  const contacts = input.administrators.map((a) => `${a.name} <${a.email}>`);
  const contactDa = contacts.length > 0 ? contacts.join(', ') : 'MitID Erhverv Support';
  const until = formatDate(input.expiresAt);
  const text = [
    `Hej ${input.user.firstName} ${input.user.surname}`,
    '',
    `${input.organisationName} har oprettet dig som bruger i MitID Erhverv.`,
    `Aktivér dig her (linket virker én gang og udløber ${until}):`,
    input.link,
    ...(input.needsCode
      ? ['', 'Du skal bruge den aktiveringskode, din brugeradministrator giver dig.']
      : []),
    '',
    `Din brugeradministrator: ${contactDa}`,
    '',
    '---',
    '',
    `Hello ${input.user.firstName} ${input.user.surname}`,
    '',
    `${input.organisationName} has created you as a user in MitID Erhverv.`,
    `Activate yourself here (the link works once and expires on ${until}):`,
    input.link,
    ...(input.needsCode
      ? ['', 'You will need the activation code your user administrator gives you.']
      : []),
    '',
    `Your user administrator: ${contactDa}`,
  ].join('\n');
  const esc = (s: string): string =>
    s.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
    );
  const html = [
    `<p>Hej ${esc(input.user.firstName)} ${esc(input.user.surname)}</p>`,
    `<p>${esc(input.organisationName)} har oprettet dig som bruger i MitID Erhverv.</p>`,
    `<p><a href="${esc(input.link)}">Aktivér dig som bruger</a> (udløber ${until}).</p>`,
    `<p>Din brugeradministrator: ${esc(contactDa)}</p>`,
    `<hr><p lang="en">${esc(input.organisationName)} has created you as a user in MitID Erhverv. ` +
      `<a href="${esc(input.link)}">Activate yourself</a> (expires on ${until}). ` +
      `Your user administrator: ${esc(contactDa)}</p>`,
  ].join('\n');
  return {
    subject: 'Aktivér dig som bruger i MitID Erhverv / Activate your MitID Erhverv user',
    text,
    html,
  };
}

/**
 * Loads the admin and checks `action` for the organisation. A refusal is written to the audit log
 * in its own transaction (so it outlives the refused one) and thrown as ForbiddenError.
 */
async function authorise(
  store: Store,
  adminId: string,
  action: Action,
  organisationId: string | undefined,
  subjectId?: string,
): Promise<Admin> {
  const admin = await store.transaction((tx) => tx.admins.get(adminId));
  const sameOrg = organisationId === undefined || admin.organisationId === organisationId;
  if (sameOrg && can(admin.role, action)) return admin;
  await store.transaction((tx) =>
    tx.audit.record({
      actor: { kind: 'admin', id: admin.id },
      action,
      outcome: 'forbidden',
      organisationId: organisationId ?? admin.organisationId,
      subjectId: subjectId ?? null,
    }),
  );
  throw new ForbiddenError(
    sameOrg
      ? `the role ${admin.role} may not ${action}`
      : 'the user belongs to another organisation',
  );
}

async function issueActivationEmail(
  tx: Repositories,
  user: BusinessUser,
  options: ActivationMailOptions,
): Promise<string> {
  const org = await tx.organisations.get(user.organisationId);
  const { token, linkId, expiresAt } = await tx.links.issue(user.id);
  const mail = activationEmail({
    user,
    organisationName: org.name,
    administrators: await tx.admins.list(org.id, 'user-administrator'),
    link: `${options.baseUrl.replace(/\/+$/, '')}/activate/${token}`,
    expiresAt,
    needsCode: user.identifiedBy === 'birth-date',
  });
  // Same transaction as the link: the e-mail exists exactly when the link does.
  return enqueue(tx, {
    channel: 'email',
    to: user.email,
    ...mail,
    idempotencyKey: `activation-email:${linkId}`,
    sensitive: true,
  });
}

/**
 * Creates a business user (by CPR or by date of birth), issues the activation link and queues the
 * activation e-mail, all in one transaction; for a user by date of birth also an activation code
 * for the administrator to hand over.
 */
export async function createBusinessUser(
  store: Store,
  adminId: string,
  input: Omit<NewBusinessUser, 'createdBy'>,
  options: ActivationMailOptions,
): Promise<CreatedUser> {
  const admin = await authorise(store, adminId, 'create-user', input.organisationId);
  return store.transaction(async (tx) => {
    const user = await tx.users.create({ ...input, createdBy: admin.id });
    const emailId = await issueActivationEmail(tx, user, options);
    const code =
      user.identifiedBy === 'birth-date'
        ? (await tx.codes.issue(user.id, 'handover')).code
        : undefined;
    await tx.audit.record({
      actor: { kind: 'admin', id: admin.id },
      action: 'user.create',
      outcome: 'ok',
      organisationId: user.organisationId,
      subjectId: user.id,
      detail: { identifiedBy: user.identifiedBy, activationEmail: emailId },
    });
    return code === undefined ? { user, emailId } : { user, emailId, activationCode: code };
  });
}

/** Resends the activation e-mail: a new link; the old one stops working (MITID.md). */
export async function resendActivationEmail(
  store: Store,
  adminId: string,
  businessUserId: string,
  options: ActivationMailOptions,
): Promise<string> {
  const user = await store.transaction((tx) => tx.users.get(businessUserId));
  const admin = await authorise(
    store,
    adminId,
    'resend-activation-email',
    user.organisationId,
    user.id,
  );
  return store.transaction(async (tx) => {
    const current = await tx.users.get(businessUserId);
    if (current.status !== 'created')
      throw new ActivationError('already-activated', 'the user is already activated');
    const emailId = await issueActivationEmail(tx, current, options);
    await tx.audit.record({
      actor: { kind: 'admin', id: admin.id },
      action: 'activation-email.resend',
      outcome: 'ok',
      organisationId: current.organisationId,
      subjectId: current.id,
      detail: { activationEmail: emailId },
    });
    return emailId;
  });
}

/**
 * A fresh activation code for a user created by date of birth, for the administrator to hand
 * over. Only a hash is kept, so showing it again means issuing a new one (the old one stops
 * working).
 */
export async function showActivationCode(
  store: Store,
  adminId: string,
  businessUserId: string,
): Promise<string> {
  const user = await store.transaction((tx) => tx.users.get(businessUserId));
  const admin = await authorise(
    store,
    adminId,
    'show-activation-code',
    user.organisationId,
    user.id,
  );
  return store.transaction(async (tx) => {
    const current = await tx.users.get(businessUserId);
    if (current.identifiedBy !== 'birth-date')
      throw new ActivationError(
        'no-activation-code',
        'users created by CPR need no activation code',
      );
    if (current.status !== 'created')
      throw new ActivationError('already-activated', 'the user is already activated');
    const { code } = await tx.codes.issue(current.id, 'handover');
    await tx.audit.record({
      actor: { kind: 'admin', id: admin.id },
      action: 'activation-code.show',
      outcome: 'ok',
      organisationId: current.organisationId,
      subjectId: current.id,
    });
    return code;
  });
}

/** What an administrator sees of one user: status, devices, orders, and whether a link is live. Never a secret. */
export interface UserOverview {
  readonly user: BusinessUser;
  readonly authenticators: readonly {
    readonly kind: string;
    readonly serial: string;
    readonly lockout: 'open' | 'temporarily-blocked' | 'blocked';
  }[];
  readonly orders: readonly {
    readonly kind: string;
    readonly serial: string | null;
    readonly status: string;
  }[];
  /** A live (unused, unexpired, not superseded) activation link exists. */
  readonly activationLinkLive: boolean;
  /** A live handover activation code exists. */
  readonly activationCodeLive: boolean;
}

/** The administrator's view of one user's state (any administrator role of the user's organisation). */
export async function viewUser(
  store: Store,
  adminId: string,
  businessUserId: string,
): Promise<UserOverview> {
  const user = await store.transaction((tx) => tx.users.get(businessUserId));
  await authorise(store, adminId, 'view-users', user.organisationId, user.id);
  return store.transaction(async (tx) => {
    const current = await tx.users.get(businessUserId);
    const bound = await tx.authenticators.forOwner('business-user', current.id);
    const authenticators = await Promise.all(
      bound.map(async (a) => ({
        kind: a.kind,
        serial: a.serial,
        lockout: await tx.authenticators.lockoutStatus(a.id),
      })),
    );
    const orders = (await tx.orders.forUser(current.id)).map((o) => ({
      kind: o.kind,
      serial: o.serial,
      status: o.status,
    }));
    const live = await tx.db
      .selectFrom('activation_links')
      .select('id')
      .where('business_user_id', '=', current.id)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null)
      .where('expires_at', '>', tx.now)
      .executeTakeFirst();
    return {
      user: current,
      authenticators,
      orders,
      activationLinkLive: live !== undefined,
      activationCodeLive: await tx.codes.pending(current.id, 'handover'),
    };
  });
}
