/** MitID's input rules (docs/MITID.md, "Rules for what a user types"), as tables of cases. */
import { describe, expect, it } from 'vitest';
import {
  checkActivationCode,
  checkAppPin,
  checkBirthDate,
  checkCpr,
  checkCvr,
  checkEmail,
  checkPassword,
  checkPhone,
  checkSmsCode,
  checkTemporaryPin,
  checkUserId,
  cprBirthDate,
  cprModulus11,
  findKeyboardRun,
  normaliseActivationCode,
  normaliseCpr,
  normalisePhone,
  userIdKey,
  type Violation,
} from '../../src/activation/index.js';

const codes = (v: Violation[]): string[] => v.map((x) => x.code);

describe('user ID', () => {
  // [input, options, expected violation codes]
  const table: [string, { cpr?: string }, string[]][] = [
    ['karen', {}, []],
    ['Karen.Testesen@firma', {}, []],
    ['rødgrød med fløde', {}, []],
    ['ÆØÅ-bruger', {}, []],
    ['{}!#$ ^,*()_+-=:;?.@', {}, []],
    ['a'.repeat(48), {}, []],
    ['abcd', {}, ['user-id-length']],
    ['a'.repeat(49), {}, ['user-id-length']],
    ['', {}, ['user-id-length']],
    ['karen/test', {}, ['user-id-chars']],
    ['karen"test', {}, ['user-id-chars']],
    ['karen%test', {}, ['user-id-chars']],
    ['karen\ttest', {}, ['user-id-chars']],
    ['jürgen', {}, ['user-id-chars']],
    [' karen', {}, ['user-id-space-edge']],
    ['karen ', {}, ['user-id-space-edge']],
    ['1234567890', {}, ['user-id-ten-digits']],
    ['123456789', {}, []],
    ['12345678901', {}, []],
    // A valid CPR shape with a hyphen is a CPR number even without knowing whose.
    ['150385-4321', {}, ['user-id-cpr']],
    ['1503854321', {}, ['user-id-ten-digits', 'user-id-cpr']],
    // Not a date: ten digits, but not a CPR number.
    ['9999999999', {}, ['user-id-ten-digits']],
    ['999999-9999', {}, []],
    ['karen', { cpr: '150385-4321' }, []],
  ];
  it.each(table)('%j %j → %j', (input, options, expected) => {
    expect(codes(checkUserId(input, options))).toEqual(expected);
  });

  it('counts characters after NFC: a combining å counts once', () => {
    expect(checkUserId('abcda\u030a')).toEqual([]);
    expect(codes(checkUserId('abca\u030a'))).toEqual(['user-id-length']);
  });

  it('the uniqueness key folds case and normalisation', () => {
    expect(userIdKey('RØDGRØD.A\u030a')).toBe(userIdKey('rødgrød.å'));
    expect(userIdKey('Karen')).toBe('karen');
  });

  it('every violation has Danish and English messages that do not repeat the input', () => {
    const secret = 'x'.repeat(60) + '/';
    for (const v of checkUserId(secret)) {
      expect(v.message.da.length).toBeGreaterThan(0);
      expect(v.message.en.length).toBeGreaterThan(0);
      expect(v.message.da + v.message.en).not.toContain(secret);
    }
  });
});

describe('password', () => {
  const table: [string, { userId?: string }, string[]][] = [
    ['Tr0ub4dor&3', {}, []],
    ['hest-batteri-klips', {}, []],
    ['Blåbærgrød!9', {}, []],
    ['kort', {}, ['password-length']],
    ['1234567', {}, ['password-length', 'password-keyboard-run']],
    ['x'.repeat(64), {}, []],
    ['x'.repeat(65), {}, ['password-length']],
    ['MyKaren.T-secret', { userId: 'karen.t' }, ['password-contains-user-id']],
    ['MyKAREN.T-secret', { userId: 'Karen.T' }, ['password-contains-user-id']],
    ['abc0123456789x', {}, ['password-ten-digits', 'password-keyboard-run']],
    ['a5830274619b', {}, ['password-ten-digits']],
    ['MitPassword!', {}, ['password-forbidden-word']],
    ['mitKODEORD!', {}, ['password-forbidden-word']],
    ['xqwertyuix', {}, ['password-keyboard-run']],
    ['ASDFGHJK!9', {}, ['password-keyboard-run']],
    ['Abc12345!', {}, ['password-keyboard-run']],
    ['1q2w3e4r!!', {}, ['password-keyboard-run']],
    ['zyxwvu##', {}, ['password-keyboard-run']],
    ['poiuyt##', {}, ['password-keyboard-run']],
    ['tab\there', {}, ['password-control']],
    ['lone\ud800surrogate', {}, ['password-control']],
  ];
  it.each(table)('%j %j → %j', (input, options, expected) => {
    expect(codes(checkPassword(input, options))).toEqual(expected);
  });

  it('messages never contain the password', () => {
    const pw = 'MitPassword1234567890';
    for (const v of checkPassword(pw)) expect(JSON.stringify(v)).not.toContain(pw);
  });
});

describe('keyboard run detector', () => {
  const table: [string, string | undefined][] = [
    ['qwerty', 'qwerty'],
    ['QWERTY', 'qwerty'],
    ['ytrewq', 'ytrewq'],
    ['123456', '123456'],
    ['654321', '654321'],
    ['7890+x', undefined],
    ['67890+', '67890+'],
    ['abcdef', 'abcdef'],
    ['æøå', undefined],
    ['jklæø!', undefined],
    ['hjklæø', 'hjklæø'],
    ['qwert', undefined],
    ['12345', undefined],
    ['q1w2e3', undefined],
    ['qazwsxed', 'qazwsxed'],
  ];
  it.each(table)('%j → %j', (input, expected) => {
    expect(findKeyboardRun(input)).toBe(expected);
  });
});

describe('CPR number', () => {
  // Fictitious numbers: valid dates with made-up sequence numbers.
  const table: [string, string[], string | undefined][] = [
    ['150385-4321', [], '1985-03-15'],
    ['1503854321', [], '1985-03-15'],
    ['010100-4000', [], '2000-01-01'], // 7th digit 4, year ≤ 36 → 2000s
    ['010137-4000', [], '1937-01-01'], // 7th digit 4, year > 36 → 1900s
    ['010157-5000', [], '2057-01-01'], // 5-8, year ≤ 57 → 2000s
    ['010158-5000', [], '1858-01-01'], // 5-8, year > 57 → 1800s
    ['010136-9000', [], '2036-01-01'],
    ['010199-9000', [], '1999-01-01'],
    ['290200-4000', [], '2000-02-29'], // leap year
    ['290201-4000', ['cpr-date'], undefined],
    ['290200-1000', ['cpr-date'], undefined], // 1900 was not a leap year
    ['320185-4321', ['cpr-date'], undefined],
    ['151385-4321', ['cpr-date'], undefined],
    ['15038-54321', ['cpr-shape'], undefined],
    ['150385 4321', ['cpr-shape'], undefined],
    ['15038543210', ['cpr-shape'], undefined],
    ['abcdef-ghij', ['cpr-shape'], undefined],
    ['', ['cpr-shape'], undefined],
  ];
  it.each(table)('%j → %j (%s)', (input, expected, birth) => {
    expect(codes(checkCpr(input))).toEqual(expected);
    expect(cprBirthDate(input)).toBe(birth);
  });

  it('does not require modulus 11 (numbers since 2007 need not pass it), but can tell', () => {
    // 070761-4285 passes the old check; 070761-4286 does not; both are accepted.
    expect(cprModulus11('070761-4285')).toBe(true);
    expect(cprModulus11('070761-4286')).toBe(false);
    expect(checkCpr('070761-4285')).toEqual([]);
    expect(checkCpr('070761-4286')).toEqual([]);
  });

  it('normalises to DDMMYY-SSSS', () => {
    expect(normaliseCpr(' 1503854321 ')).toBe('150385-4321');
    expect(normaliseCpr('150385-4321')).toBe('150385-4321');
    expect(normaliseCpr('15038543')).toBeUndefined();
  });
});

describe('date of birth', () => {
  const today = '2026-11-25';
  const table: [string, string[]][] = [
    ['1990-07-01', []],
    ['2026-11-25', []],
    ['2026-11-26', ['birth-date-future']],
    ['1896-01-01', []],
    ['1895-01-01', ['birth-date-too-old']],
    ['1990-02-30', ['birth-date-shape']],
    ['1990-13-01', ['birth-date-shape']],
    ['01-07-1990', ['birth-date-shape']],
    ['1990-7-1', ['birth-date-shape']],
  ];
  it.each(table)('%j → %j', (input, expected) => {
    expect(codes(checkBirthDate(input, { today }))).toEqual(expected);
  });
});

describe('phone number', () => {
  const table: [string, string | undefined][] = [
    ['20304050', '+4520304050'],
    ['20 30 40 50', '+4520304050'],
    ['+45 20 30 40 50', '+4520304050'],
    ['+4520304050', '+4520304050'],
    ['004520304050', '+4520304050'],
    ['+45 2030405', undefined],
    ['+4501234567', undefined],
    ['01234567', undefined],
    ['2030405', undefined],
    ['+46701234567', '+46701234567'],
    ['+1 415 555 2671', '+14155552671'],
    ['+0123456789', undefined],
    ['+1234567890123456', undefined],
    ['tlf 20304050', undefined],
  ];
  it.each(table)('%j → %j', (input, expected) => {
    expect(normalisePhone(input)).toBe(expected);
    expect(codes(checkPhone(input))).toEqual(expected === undefined ? ['phone-shape'] : []);
  });
});

describe('CVR number', () => {
  const table: [string, boolean, string[]][] = [
    ['99887766', true, []],
    ['91234567', true, []],
    ['12345678', true, ['cvr-not-fictitious']],
    ['12345678', false, []],
    ['09887766', false, ['cvr-shape']],
    ['9988776', true, ['cvr-shape']],
    ['998877665', true, ['cvr-shape']],
    ['9988 7766', true, ['cvr-shape']],
  ];
  it.each(table)('%j fictitiousOnly=%j → %j', (input, fictitiousOnly, expected) => {
    expect(codes(checkCvr(input, { fictitiousOnly }))).toEqual(expected);
  });
});

describe('codes and PINs', () => {
  it.each([
    ['ABCD-EFGH', 'ABCDEFGH'],
    ['abcd efgh', 'ABCDEFGH'],
    ['ABCDEFGH', 'ABCDEFGH'],
    ['ABCD-EFG0', undefined], // 0 is a look-alike, not in the alphabet
    ['ABCD-EFGI', undefined],
    ['ABC-EFGH', undefined],
    ['ABCD-EFGHJ', undefined],
  ])('activation code %j → %j', (input, expected) => {
    expect(normaliseActivationCode(input)).toBe(expected);
    expect(codes(checkActivationCode(input))).toEqual(
      expected === undefined ? ['activation-code-shape'] : [],
    );
  });

  it.each([
    [checkAppPin, '123456', []],
    [checkAppPin, '12345', ['app-pin-shape']],
    [checkAppPin, '1234567', ['app-pin-shape']],
    [checkAppPin, '12345a', ['app-pin-shape']],
    [checkTemporaryPin, '12345678', []],
    [checkTemporaryPin, '1234567', ['temporary-pin-shape']],
    [checkTemporaryPin, '123456789', ['temporary-pin-shape']],
    [checkSmsCode, '000123', []],
    [checkSmsCode, '00012', ['sms-code-shape']],
  ] as const)('%o(%j) → %j', (fn, input, expected) => {
    expect(codes(fn(input))).toEqual(expected);
  });

  it.each([
    ['karen@testfirma.example', []],
    ['karen.t+mitid@sub.testfirma.example', []],
    ['karen@localhost', ['email-shape']],
    ['karen testfirma.example', ['email-shape']],
    ['<karen@testfirma.example>', ['email-shape']],
    ['', ['email-shape']],
  ])('e-mail %j → %j', (input, expected) => {
    expect(codes(checkEmail(input))).toEqual(expected);
  });
});
