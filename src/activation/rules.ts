/** What a user or administrator types, checked against MitID's published rules (docs/MITID.md). */
import { violation, type Violation } from './violations.js';

// ---------------------------------------------------------------------------------------------
// User ID (MITID.md, "Rules for what a user types").

/** Shortest and longest user ID, in characters. */
export const USER_ID_MIN = 5;
export const USER_ID_MAX = 48;

/** Every character a user ID may hold after lower-casing: a–z æ ø å 0–9 and the listed symbols. */
const USER_ID_CHARS = new Set([
  ...'abcdefghijklmnopqrstuvwxyzæøå0123456789',
  ...'{}!#$ ^,*()_+-=:;?.@',
]);

/**
 * The key that makes user IDs unique: NFC (so a precomposed and a combining "å" are the same ID)
 * and lower case (MitID: upper and lower case are the same).
 */
export function userIdKey(userId: string): string {
  return userId.normalize('NFC').toLowerCase();
}

/** Options for {@link checkUserId}. */
export interface UserIdCheckOptions {
  /** The user's own CPR number, when known: the user ID may not be it, with or without hyphen. */
  readonly cpr?: string;
}

/** Checks a user ID; an empty list means it is acceptable (uniqueness is the store's job). */
export function checkUserId(userId: string, options: UserIdCheckOptions = {}): Violation[] {
  const out: Violation[] = [];
  const f = 'userId';
  if (typeof userId !== 'string') {
    return [violation(f, 'user-id-missing', 'Angiv et bruger-id.', 'Enter a user ID.')];
  }
  const nfc = userId.normalize('NFC');
  const length = [...nfc].length;
  if (length < USER_ID_MIN || length > USER_ID_MAX) {
    out.push(
      violation(
        f,
        'user-id-length',
        `Bruger-id skal være ${USER_ID_MIN}-${USER_ID_MAX} tegn.`,
        `The user ID must be ${USER_ID_MIN}-${USER_ID_MAX} characters.`,
      ),
    );
  }
  const key = userIdKey(nfc);
  if ([...key].some((c) => !USER_ID_CHARS.has(c))) {
    out.push(
      violation(
        f,
        'user-id-chars',
        'Bruger-id må kun indeholde a-z, æ, ø, å, 0-9, mellemrum og { } ! # $ ^ , * ( ) _ + - = : ; ? . @',
        'The user ID may only contain a-z, æ, ø, å, 0-9, space and { } ! # $ ^ , * ( ) _ + - = : ; ? . @',
      ),
    );
  }
  if (nfc.startsWith(' ') || nfc.endsWith(' ')) {
    out.push(
      violation(
        f,
        'user-id-space-edge',
        'Bruger-id må ikke begynde eller slutte med mellemrum.',
        'The user ID must not start or end with a space.',
      ),
    );
  }
  if (/^\d{10}$/.test(nfc)) {
    out.push(
      violation(
        f,
        'user-id-ten-digits',
        'Bruger-id må ikke bestå af 10 cifre.',
        'The user ID must not consist of 10 digits.',
      ),
    );
  }
  const own = options.cpr === undefined ? undefined : cprDigits(options.cpr);
  const looksLikeCpr = /^\d{6}-?\d{4}$/.test(nfc) && checkCpr(nfc).length === 0;
  if (looksLikeCpr || (own !== undefined && nfc.replace('-', '') === own)) {
    out.push(
      violation(
        f,
        'user-id-cpr',
        'Bruger-id må ikke være et CPR-nummer.',
        'The user ID must not be a CPR number.',
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Password (MITID.md: with code display, audio reader and chip).

/** A lone UTF-16 surrogate: text that is not well-formed Unicode. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** C0 control characters and DEL: never part of a name or password. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 64;

/** Words a password may not contain, in any case (MITID.md). */
export const FORBIDDEN_PASSWORD_WORDS = ['password', 'kodeord'] as const;

/**
 * Well-known keyboard and sequence strings that make weak passwords; matched as substrings in
 * any case. The run detector below catches the rest of their family.
 */
export const KEYBOARD_RUNS = [
  'qwertyui',
  'asdfghjk',
  'zxcvbnm',
  'abc12345',
  '12345abc',
  'qwerty12',
  '1q2w3e4r',
  'qazwsxed',
  'q1w2e3r4',
  'azertyui',
  'qwertzui',
] as const;

/**
 * Rows of a Danish keyboard plus the alphabet and the digits: a run of
 * {@link KEYBOARD_RUN_LENGTH} neighbours along one of them, either way, is a keyboard run.
 */
const RUN_ROWS = [
  '1234567890+',
  'qwertyuiopå',
  'asdfghjklæø',
  'zxcvbnm,.-',
  'abcdefghijklmnopqrstuvwxyzæøå',
  '01234567890',
] as const;

/** How many neighbouring keys in a row make a run. Not published: 6 catches "qwerty", "123456". */
export const KEYBOARD_RUN_LENGTH = 6;

/** The first keyboard run of at least `min` characters in `s` (case-insensitive), if any. */
export function findKeyboardRun(s: string, min = KEYBOARD_RUN_LENGTH): string | undefined {
  const lower = [...s.normalize('NFC').toLowerCase()];
  for (const row of RUN_ROWS) {
    const keys = [...row];
    for (const dir of [1, -1] as const) {
      let start = 0;
      for (let i = 1; i <= lower.length; i++) {
        const prev = lower[i - 1] ?? '';
        const cur = lower[i];
        const a = keys.indexOf(prev);
        const b = cur === undefined ? -1 : keys.indexOf(cur);
        const continues = a >= 0 && b >= 0 && b - a === dir;
        if (!continues) {
          if (i - start >= min) return lower.slice(start, i).join('');
          start = i;
        }
      }
    }
  }
  for (const run of KEYBOARD_RUNS) if (lower.join('').includes(run)) return run;
  return undefined;
}

/** Options for {@link checkPassword}. */
export interface PasswordCheckOptions {
  /** The user ID the password belongs to: the password may not contain it. */
  readonly userId?: string;
}

/** Checks a password. The messages never repeat the password. */
export function checkPassword(password: string, options: PasswordCheckOptions = {}): Violation[] {
  const f = 'password';
  if (typeof password !== 'string')
    return [violation(f, 'password-missing', 'Angiv en adgangskode.', 'Enter a password.')];
  const out: Violation[] = [];
  const nfc = password.normalize('NFC');
  const lower = nfc.toLowerCase();
  const length = [...nfc].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    out.push(
      violation(
        f,
        'password-length',
        `Adgangskoden skal være ${PASSWORD_MIN}-${PASSWORD_MAX} tegn.`,
        `The password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters.`,
      ),
    );
  }
  if (CONTROL.test(nfc) || LONE_SURROGATE.test(nfc)) {
    out.push(
      violation(
        f,
        'password-control',
        'Adgangskoden indeholder ugyldige tegn.',
        'The password contains characters that are not allowed.',
      ),
    );
  }
  if (
    options.userId !== undefined &&
    options.userId.length > 0 &&
    lower.includes(userIdKey(options.userId))
  ) {
    out.push(
      violation(
        f,
        'password-contains-user-id',
        'Adgangskoden må ikke indeholde dit bruger-id.',
        'The password must not contain your user ID.',
      ),
    );
  }
  if (/\d{10}/.test(nfc)) {
    out.push(
      violation(
        f,
        'password-ten-digits',
        'Adgangskoden må ikke indeholde 10 cifre i træk.',
        'The password must not contain 10 digits in a row.',
      ),
    );
  }
  if (FORBIDDEN_PASSWORD_WORDS.some((w) => lower.includes(w))) {
    out.push(
      violation(
        f,
        'password-forbidden-word',
        'Adgangskoden må ikke indeholde ordet "password" eller "kodeord".',
        'The password must not contain the word "password" or "kodeord".',
      ),
    );
  }
  if (findKeyboardRun(nfc) !== undefined) {
    out.push(
      violation(
        f,
        'password-keyboard-run',
        'Adgangskoden må ikke indeholde en almindelig tastaturrække som "qwertyui" eller "abc12345".',
        'The password must not contain a common keyboard run such as "qwertyui" or "abc12345".',
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CPR number and date of birth.

function cprDigits(cpr: string): string {
  return cpr.trim().replace('-', '');
}

/**
 * The century of a CPR number from the 7th digit and the year (CPR office's table): 0-3 → 1900s;
 * 4 and 9 → 2000s up to 36, else 1900s; 5-8 → 2000s up to 57, else 1800s.
 */
function cprYear(yy: number, seventh: number): number {
  if (seventh <= 3) return 1900 + yy;
  if (seventh === 4 || seventh === 9) return (yy <= 36 ? 2000 : 1900) + yy;
  return (yy <= 57 ? 2000 : 1800) + yy;
}

function validDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** `DDMMYY-SSSS` for a CPR number typed with or without the hyphen; undefined if not that shape. */
export function normaliseCpr(cpr: string): string | undefined {
  if (typeof cpr !== 'string') return undefined;
  const m = /^(\d{6})-?(\d{4})$/.exec(cpr.trim());
  return m ? `${m[1]}-${m[2]}` : undefined;
}

/** The date of birth (`YYYY-MM-DD`) a CPR number encodes, or undefined if it encodes none. */
export function cprBirthDate(cpr: string): string | undefined {
  const n = normaliseCpr(cpr);
  if (n === undefined) return undefined;
  const dd = Number(n.slice(0, 2));
  const mm = Number(n.slice(2, 4));
  const yy = Number(n.slice(4, 6));
  const year = cprYear(yy, Number(n[7]));
  if (!validDate(year, mm, dd)) return undefined;
  return `${year}-${n.slice(2, 4)}-${n.slice(0, 2)}`;
}

/**
 * True when the CPR number passes the old modulus-11 check (weights 4 3 2 7 6 5 4 3 2 1).
 * Informational only: numbers issued since 2007 need not pass it.
 */
export function cprModulus11(cpr: string): boolean {
  const n = normaliseCpr(cpr);
  if (n === undefined) return false;
  const digits = n.replace('-', '');
  const weights = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += Number(digits[i]) * (weights[i] ?? 0);
  return sum % 11 === 0;
}

/** Checks a CPR number's shape and date. The modulus-11 check is deliberately not applied. */
export function checkCpr(cpr: string): Violation[] {
  const f = 'cpr';
  if (normaliseCpr(cpr) === undefined) {
    return [
      violation(
        f,
        'cpr-shape',
        'CPR-nummeret skal have formen DDMMÅÅ-XXXX.',
        'The CPR number must have the form DDMMYY-XXXX.',
      ),
    ];
  }
  if (cprBirthDate(cpr) === undefined) {
    return [
      violation(
        f,
        'cpr-date',
        'CPR-nummeret indeholder ikke en gyldig dato.',
        'The CPR number does not contain a valid date.',
      ),
    ];
  }
  return [];
}

/** Options for {@link checkBirthDate}. */
export interface BirthDateCheckOptions {
  /** Today as `YYYY-MM-DD` (UTC); default the system date. The date may not be after it. */
  readonly today?: string;
}

/** The oldest age accepted for a date of birth, in years. */
export const MAX_AGE_YEARS = 130;

/** Checks a date of birth given as `YYYY-MM-DD`. */
export function checkBirthDate(date: string, options: BirthDateCheckOptions = {}): Violation[] {
  const f = 'birthDate';
  const m = typeof date === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(date) : null;
  if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    return [
      violation(
        f,
        'birth-date-shape',
        'Fødselsdatoen skal være en gyldig dato (ÅÅÅÅ-MM-DD).',
        'The date of birth must be a valid date (YYYY-MM-DD).',
      ),
    ];
  }
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  if (date > today) {
    return [
      violation(
        f,
        'birth-date-future',
        'Fødselsdatoen ligger i fremtiden.',
        'The date of birth is in the future.',
      ),
    ];
  }
  if (Number(today.slice(0, 4)) - Number(m[1]) > MAX_AGE_YEARS) {
    return [
      violation(
        f,
        'birth-date-too-old',
        'Fødselsdatoen er for langt tilbage.',
        'The date of birth is too far in the past.',
      ),
    ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Phone number.

/**
 * The E.164 form of a phone number: a Danish number (8 digits, optionally after +45 or 0045) or
 * any E.164 number (`+` then 8-15 digits). Spaces and hyphens between digits are ignored.
 * Undefined when it is neither.
 */
export function normalisePhone(phone: string): string | undefined {
  if (typeof phone !== 'string') return undefined;
  const s = phone
    .trim()
    .replace(/(?<=\d)[ -](?=\d)/g, '')
    .replace(/^\+45 /, '+45');
  if (/^[2-9]\d{7}$/.test(s)) return `+45${s}`;
  if (/^0045[2-9]\d{7}$/.test(s)) return `+${s.slice(2)}`;
  if (/^\+45/.test(s)) return /^\+45[2-9]\d{7}$/.test(s) ? s : undefined;
  // E.164: at most 15 digits, no leading zero in the country code.
  if (/^\+[1-9]\d{7,14}$/.test(s)) return s;
  return undefined;
}

/** Checks a phone number (Danish 8 digits or E.164). */
export function checkPhone(phone: string): Violation[] {
  if (normalisePhone(phone) !== undefined) return [];
  return [
    violation(
      'phone',
      'phone-shape',
      'Telefonnummeret skal være 8 cifre eller et internationalt nummer med +landekode.',
      'The phone number must be 8 digits or an international number with +country code.',
    ),
  ];
}

// ---------------------------------------------------------------------------------------------
// CVR number.

/** Options for {@link checkCvr}. */
export interface CvrCheckOptions {
  /** Accept only fictitious test numbers (starting with 9), as in MitID's test environment. Default true. */
  readonly fictitiousOnly?: boolean;
}

/** Checks a CVR number: 8 digits, not starting with 0; test numbers start with 9. */
export function checkCvr(cvr: string, options: CvrCheckOptions = {}): Violation[] {
  const f = 'cvr';
  if (typeof cvr !== 'string' || !/^[1-9]\d{7}$/.test(cvr)) {
    return [
      violation(
        f,
        'cvr-shape',
        'CVR-nummeret skal være 8 cifre.',
        'The CVR number must be 8 digits.',
      ),
    ];
  }
  if ((options.fictitiousOnly ?? true) && !cvr.startsWith('9')) {
    return [
      violation(
        f,
        'cvr-not-fictitious',
        'Kun fiktive CVR-numre (der begynder med 9) er tilladt her.',
        'Only fictitious CVR numbers (starting with 9) are allowed here.',
      ),
    ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Codes and PINs.

/**
 * The alphabet of activation codes an administrator hands over: upper-case letters and digits
 * without the look-alikes 0/O, 1/I/L, so a code read aloud or copied by hand survives. The shape is
 * not published; we chose 8 characters, shown as two groups of four (`ABCD-EFGH`, 40 bits).
 */
export const ACTIVATION_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const ACTIVATION_CODE_LENGTH = 8;

/** Canonical form of an activation code as typed (case, spaces and the hyphen ignored), or undefined. */
export function normaliseActivationCode(code: string): string | undefined {
  if (typeof code !== 'string') return undefined;
  const s = code.toUpperCase().replace(/[\s-]/g, '');
  if (s.length !== ACTIVATION_CODE_LENGTH) return undefined;
  return [...s].every((c) => ACTIVATION_CODE_ALPHABET.includes(c)) ? s : undefined;
}

/** Checks the shape of an activation code. */
export function checkActivationCode(code: string): Violation[] {
  if (normaliseActivationCode(code) !== undefined) return [];
  return [
    violation(
      'activationCode',
      'activation-code-shape',
      'Aktiveringskoden skal være 8 tegn (bogstaver og tal).',
      'The activation code must be 8 characters (letters and digits).',
    ),
  ];
}

/** An SMS verification code for a phone number: 6 digits (shape not published; our choice). */
export function checkSmsCode(code: string): Violation[] {
  if (typeof code === 'string' && /^\d{6}$/.test(code)) return [];
  return [
    violation(
      'smsCode',
      'sms-code-shape',
      'Bekræftelseskoden skal være 6 cifre.',
      'The verification code must be 6 digits.',
    ),
  ];
}

/** The app PIN: 6 digits (MITID.md). */
export function checkAppPin(pin: string): Violation[] {
  if (typeof pin === 'string' && /^\d{6}$/.test(pin)) return [];
  return [
    violation('pin', 'app-pin-shape', 'PIN-koden skal være 6 cifre.', 'The PIN must be 6 digits.'),
  ];
}

/** The temporary PIN sent by SMS during app activation: 8 digits (MITID.md). */
export function checkTemporaryPin(pin: string): Violation[] {
  if (typeof pin === 'string' && /^\d{8}$/.test(pin)) return [];
  return [
    violation(
      'temporaryPin',
      'temporary-pin-shape',
      'Den midlertidige PIN-kode skal være 8 cifre.',
      'The temporary PIN must be 8 digits.',
    ),
  ];
}

/** Checks a name (first name or surname): 1-100 characters, no control characters. */
export function checkName(name: string, field: string): Violation[] {
  if (
    typeof name === 'string' &&
    name.trim().length > 0 &&
    [...name].length <= 100 &&
    !CONTROL.test(name) &&
    !LONE_SURROGATE.test(name)
  ) {
    return [];
  }
  return [
    violation(
      field,
      'name-shape',
      'Angiv et navn på 1-100 tegn.',
      'Enter a name of 1-100 characters.',
    ),
  ];
}

/** Checks an e-mail address: one @, a dot in the domain, no spaces, at most 254 characters. */
export function checkEmail(email: string): Violation[] {
  if (
    typeof email === 'string' &&
    email.length <= 254 &&
    !CONTROL.test(email) &&
    !LONE_SURROGATE.test(email) &&
    /^[^\s@<>()",;]+@[^\s@<>()",;]+\.[^\s@<>()",;]+$/.test(email)
  )
    return [];
  return [
    violation(
      'email',
      'email-shape',
      'Angiv en gyldig e-mailadresse.',
      'Enter a valid e-mail address.',
    ),
  ];
}
