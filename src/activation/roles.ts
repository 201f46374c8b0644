/** MitID Erhverv roles, what each may do, and an organisation's settings (docs/MITID.md). */
import { AuthenticatorKinds, type AuthenticatorKind } from '../core/authenticator.js';
import { violation, type Violation } from './violations.js';

/** The roles of MitID Erhverv: a plain user, the three administrator roles, and the trusted employee. */
export const Roles = [
  'user',
  'user-administrator',
  'organisation-administrator',
  'rights-administrator',
  'trusted-employee',
] as const;
export type Role = (typeof Roles)[number];

/** True when `s` names a role. */
export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (Roles as readonly string[]).includes(s);
}

/** The three administrator roles (MITID.md, "MitID Erhverv"). */
export const AdministratorRoles = [
  'user-administrator',
  'organisation-administrator',
  'rights-administrator',
] as const;

/**
 * Who may do what. MITID.md fixes only that the organisation administrator alone changes the
 * organisation's settings and the other administrators may view them; the rest follows the
 * division of work the roles' names describe (user administrators look after users and their
 * devices, rights administrators after rights, trusted employees in municipalities help citizens).
 */
export const Permissions = {
  'create-user': ['user-administrator'],
  'resend-activation-email': ['user-administrator'],
  'show-activation-code': ['user-administrator'],
  'view-users': ['user-administrator', 'organisation-administrator', 'rights-administrator'],
  'block-user': ['user-administrator'],
  'order-device': ['user-administrator'],
  'import-inventory': ['user-administrator', 'organisation-administrator'],
  'allow-separate-mitid': ['user-administrator'],
  'approve-shared-mitid': ['user-administrator', 'organisation-administrator'],
  'change-org-settings': ['organisation-administrator'],
  'view-org-settings': ['user-administrator', 'organisation-administrator', 'rights-administrator'],
  'assign-roles': ['organisation-administrator'],
  'assign-rights': ['rights-administrator'],
  'assist-citizen': ['trusted-employee'],
  'act-for-organisation': Roles,
  'view-own-profile': Roles,
} as const satisfies Record<string, readonly Role[]>;
export type Action = keyof typeof Permissions;

/** Every action, for tables and listings. */
export const Actions = Object.keys(Permissions) as Action[];

/** True when a holder of `role` may do `action`. Unknown roles or actions may do nothing. */
export function can(role: Role, action: Action): boolean {
  const allowed: readonly string[] | undefined = (Permissions as Record<string, readonly string[]>)[
    action
  ];
  return allowed !== undefined && allowed.includes(role);
}

/** True when any of `roles` may do `action` (a person can hold several roles). */
export function canAny(roles: readonly Role[], action: Action): boolean {
  return roles.some((r) => can(r, action));
}

// ---------------------------------------------------------------------------------------------
// Organisation settings.

/** What an organisation allows (MITID.md, "Organisation settings"). */
export interface OrganisationSettings {
  /** Whether users may use their private MitID (the user must consent too). */
  readonly privateMitIdAllowed: boolean;
  /** The authenticators offered for a separate MitID; a separate MitID is always allowed. */
  readonly separateAuthenticators: readonly AuthenticatorKind[];
  /** The authenticator shown first; one of the offered. */
  readonly preselected: AuthenticatorKind;
}

/** A new organisation's settings: private MitID allowed, every authenticator, the app preselected. */
export const defaultOrganisationSettings: OrganisationSettings = Object.freeze({
  privateMitIdAllowed: true,
  separateAuthenticators: Object.freeze([...AuthenticatorKinds]),
  preselected: 'app',
});

/** Checks a complete settings value. */
export function checkOrganisationSettings(s: OrganisationSettings): Violation[] {
  const out: Violation[] = [];
  if (typeof s !== 'object' || s === null) {
    return [
      violation(
        'settings',
        'settings-missing',
        'Indstillingerne mangler.',
        'The settings are missing.',
      ),
    ];
  }
  if (typeof s.privateMitIdAllowed !== 'boolean') {
    out.push(
      violation(
        'privateMitIdAllowed',
        'settings-private-flag',
        'Angiv om privat MitID er tilladt.',
        'Say whether private MitID is allowed.',
      ),
    );
  }
  const offered = Array.isArray(s.separateAuthenticators) ? s.separateAuthenticators : [];
  if (offered.length === 0) {
    // A separate MitID must always be possible, so it needs at least one authenticator.
    out.push(
      violation(
        'separateAuthenticators',
        'settings-no-authenticator',
        'Vælg mindst én identifikationsmetode til separat MitID.',
        'Offer at least one authenticator for a separate MitID.',
      ),
    );
  }
  if (offered.some((k) => !(AuthenticatorKinds as readonly string[]).includes(k))) {
    out.push(
      violation(
        'separateAuthenticators',
        'settings-unknown-authenticator',
        'Ukendt identifikationsmetode.',
        'Unknown authenticator.',
      ),
    );
  }
  if (new Set(offered).size !== offered.length) {
    out.push(
      violation(
        'separateAuthenticators',
        'settings-duplicate-authenticator',
        'En identifikationsmetode er angivet to gange.',
        'An authenticator is listed twice.',
      ),
    );
  }
  if (!offered.includes(s.preselected)) {
    out.push(
      violation(
        'preselected',
        'settings-preselected-not-offered',
        'Den forvalgte identifikationsmetode skal være blandt de tilbudte.',
        'The preselected authenticator must be one of those offered.',
      ),
    );
  }
  return out;
}

/** A change to settings; omitted fields stay as they are. */
export type OrganisationSettingsPatch = Partial<OrganisationSettings>;

/** The outcome of {@link changeOrganisationSettings}. */
export type SettingsChange =
  | { readonly ok: true; readonly settings: OrganisationSettings }
  | { readonly ok: false; readonly violations: readonly Violation[] };

/**
 * Applies `patch` for a holder of `role`: only an organisation administrator may; the result must
 * pass {@link checkOrganisationSettings}. When the preselected authenticator stops being offered
 * and the patch does not name a new one, the first offered becomes preselected.
 */
export function changeOrganisationSettings(
  current: OrganisationSettings,
  patch: OrganisationSettingsPatch,
  role: Role,
): SettingsChange {
  if (!can(role, 'change-org-settings')) {
    return {
      ok: false,
      violations: [
        violation(
          'role',
          'forbidden',
          'Kun organisationsadministratoren kan ændre organisationens indstillinger.',
          "Only the organisation administrator can change the organisation's settings.",
        ),
      ],
    };
  }
  const offered = patch.separateAuthenticators ?? current.separateAuthenticators;
  let preselected = patch.preselected ?? current.preselected;
  if (patch.preselected === undefined && !offered.includes(preselected) && offered[0] !== undefined)
    preselected = offered[0];
  const next: OrganisationSettings = {
    privateMitIdAllowed: patch.privateMitIdAllowed ?? current.privateMitIdAllowed,
    separateAuthenticators: [...offered],
    preselected,
  };
  const violations = checkOrganisationSettings(next);
  return violations.length > 0 ? { ok: false, violations } : { ok: true, settings: next };
}

/** Which MitID a user may choose during activation. */
export interface MitIdChoices {
  readonly private: boolean;
  readonly separate: boolean;
  /** The authenticators offered for a separate MitID, the preselected first. */
  readonly authenticators: readonly AuthenticatorKind[];
}

/** Per-user facts that narrow the organisation's choices. */
export interface UserChoiceOptions {
  /**
   * False when the user has been set up for private MitID only. The guide: such a user who
   * declines is told to ask the user administrator, who can allow a separate MitID
   * ({@link Permissions} `allow-separate-mitid`), so the organisation can never forbid it for good.
   */
  readonly separateAllowedForUser?: boolean;
}

/**
 * The choices shown to a user. Private MitID needs the organisation's setting (and the user's own
 * consent, which is the choice itself); a separate MitID is offered unless the user was set up for
 * private MitID only and it is allowed for the organisation.
 */
export function mitIdChoices(
  settings: OrganisationSettings,
  options: UserChoiceOptions = {},
): MitIdChoices {
  const ordered = [
    settings.preselected,
    ...settings.separateAuthenticators.filter((k) => k !== settings.preselected),
  ];
  const privateOk = settings.privateMitIdAllowed;
  // Never leave a user with no choice at all: without private MitID, separate is always offered.
  const separateOk = !privateOk || (options.separateAllowedForUser ?? true);
  return {
    private: privateOk,
    separate: separateOk,
    authenticators: separateOk
      ? ordered.filter((k) => settings.separateAuthenticators.includes(k))
      : [],
  };
}
