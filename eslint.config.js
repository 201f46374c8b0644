// Lint rules, including the dependency rules of the house (docs/DESIGN.md, "The house").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** @param {string[]} groups @param {string} message */
const forbid = (groups, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: groups, message }] }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'artifacts/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  // src/core imports nothing of ours.
  {
    files: ['src/core/**'],
    rules: forbid(['../*', '../../*', '../../../*'], 'src/core imports nothing outside src/core'),
  },
  // Protocol and engine layers import only src/core and each other.
  {
    files: ['src/otp/**', 'src/ctap/**', 'src/hid/**', 'src/serial/**', 'src/audio/**'],
    rules: forbid(
      ['**/activation/**', '**/cli/**', '**/devices/**', '**/firmware-sim/**'],
      'engine layers import only src/core and each other',
    ),
  },
  // Firmware never knows about host drivers or the service.
  {
    files: ['firmware-sim/**'],
    rules: forbid(
      ['**/devices/**', '**/activation/**', '**/cli/**'],
      'firmware-sim never imports devices, the service or the CLI',
    ),
  },
  // The service sees binding material and proofs, never a device object.
  {
    files: ['src/activation/**'],
    rules: forbid(
      ['**/devices/**', '**/firmware-sim/**', '**/cli/**'],
      'src/activation never imports devices or firmware-sim',
    ),
  },
  {
    files: ['devices/**'],
    rules: forbid(['**/activation/**', '**/cli/**'], 'devices never import the service or the CLI'),
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    files: ['test/**', 'scripts/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
