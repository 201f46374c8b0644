/**
 * The activation pages' texts in Danish and English, the choice of language, and the Danish
 * wording of the flow's refusals (the flow itself answers in English).
 */
import type { FastifyRequest } from 'fastify';

/** The languages of the pages. */
export type Lang = 'da' | 'en';

const da = {
  siteName: 'MitID Erhverv (simulator)',
  skip: 'Gå til indhold',
  nav: 'Hovedmenu',
  switchTo: 'English',
  navHome: 'Forside',
  navLogin: 'Log på',
  navAdmin: 'Administration',
  navMailbox: 'Postkasse',
  navSms: 'SMS',
  next: 'Næste',
  continue: 'Fortsæt',
  errorTitle: 'Der skete en fejl',
  errorPrefix: 'Fejl:',
  notFound: 'Siden findes ikke',
  notFoundText: 'Der er ingen side på denne adresse.',
  forbiddenTitle: 'Handlingen blev afvist',
  csrfText:
    'Formularen var udløbet eller kom ikke fra denne side. Gå tilbage, genindlæs siden og prøv igen.',
  internal: 'Noget gik galt hos os. Prøv igen om lidt.',
  backHome: 'Til forsiden',
  // Landing.
  landingTitle: 'Aktivering i MitID Erhverv – simulator',
  landingIntro:
    'Her kan du prøve hele aktiveringen af en bruger i MitID Erhverv med emulerede MitID-enheder: kodeviser, kodeoplæser, chip og app.',
  landingHowTitle: 'Sådan kommer du i gang',
  landingStep1:
    'En ny datamappe får en sandkasse, når mitid-sim serve starter: se Sandkassen herunder. Ellers opret en organisation med en brugeradministrator med kommandolinjen (mitid-sim org create --cvr … --name … --admin-name … --admin-email …, derefter mitid-sim admin token --cvr …), og log på administrationen med administratorens token.',
  landingStep2:
    'Opret en bruger med CPR-nummer eller fødselsdato. Brugeren får en aktiverings-e-mail.',
  landingStep3: 'Åbn e-mailen i postkassen og følg linket “Start aktivering”.',
  landingStep4:
    'Log på med det private MitID, vælg privat eller separat MitID, og følg trinnene til “Afslut aktivering”. SMS-koder ses under SMS.',
  landingStep5: 'Log bagefter på med det nye MitID under “Log på”.',
  landingLinks: 'Genveje',
  linkSandbox: 'Sandkassen (udviklerværktøj)',
  linkDevices: 'Emulerede enheder (udviklerværktøj)',
  linkMailbox: 'Postkassen (udviklerværktøj)',
  linkSms: 'SMS-udbakken (udviklerværktøj)',
  linkLogin: 'Log på med MitID',
  linkAdmin: 'Administration',
  // Activation link.
  linkTitle: 'Aktivér dig som bruger i MitID Erhverv',
  linkIntro: 'Du er oprettet som bruger hos',
  linkFor: 'Til',
  linkExpires: 'Linket virker til og med',
  linkNeedsCode: 'Du skal bruge den aktiveringskode, du har fået af din brugeradministrator.',
  linkPrivacy:
    'Du logger på med dit private MitID for at bekræfte, hvem du er. Dine personlige oplysninger deles ikke med organisationen.',
  startActivation: 'Start aktivering',
  linkErrorTitle: 'Aktiveringslinket virker ikke',
  // Private login at the start.
  privateLoginTitle: 'Log på med dit private MitID',
  privateLoginIntro:
    'Brug bruger-ID, kode fra din kodeviser eller kodeoplæser og adgangskode. Eller brug MitID-appen.',
  withDevice: 'Med kodeviser eller kodeoplæser',
  withApp: 'Med MitID-appen',
  userId: 'Bruger-ID',
  code: 'Kode',
  password: 'Adgangskode',
  logIn: 'Log på',
  useApp: 'Brug MitID-appen',
  appWaitTitle: 'Godkend i MitID-appen',
  appWaitIntro:
    'Scan QR-koden med MitID-appen, eller brug den 4-cifrede kode, og godkend. Siden fortsætter af sig selv, når du har godkendt.',
  qrAlt: 'QR-kode til MitID-appen',
  channelCode: '4-cifret kode',
  waiting: 'Venter på godkendelse …',
  appNoJs: 'Tryk på “Fortsæt”, når du har godkendt i appen.',
  // Steps.
  stepChooseTitle: 'Privat eller separat MitID',
  stepChooseIntro: 'Vil du bruge dit private MitID, når du handler på vegne af',
  choosePrivate: 'Ja, jeg vil bruge mit private MitID',
  chooseSeparate: 'Nej, jeg vil have et separat MitID',
  onlyPrivateNote:
    'Din organisation tillader kun privat MitID. Vil du ikke bruge det, så kontakt din brugeradministrator.',
  onlySeparateNote: 'Din organisation tillader kun et separat MitID.',
  stepUserIdTitle: 'Opret bruger-ID',
  stepUserIdHelp:
    '5–48 tegn: bogstaver a–å, tal, mellemrum og { } ! # $ ^ , * ( ) _ + - = : ; ? . @. Må ikke være dit CPR-nummer eller 10 cifre.',
  stepCodeTitle: 'Indtast aktiveringskode',
  stepCodeHelp:
    'Koden har du fået af din brugeradministrator. Efter 3 forkerte forsøg spærres den.',
  activationCode: 'Aktiveringskode',
  stepCodeNew: 'Jeg har fået en ny aktiveringskode',
  stepPhoneTitle: 'Dit telefonnummer',
  stepPhoneHelp:
    'Du får en bekræftelseskode på SMS, og beskeder om ændringer af din bruger sendes hertil.',
  phone: 'Telefonnummer',
  stepPhoneCodeTitle: 'Indtast bekræftelseskode',
  stepPhoneCodeHelp: 'Vi har sendt en 6-cifret kode på SMS til',
  phoneCode: 'Bekræftelseskode fra SMS',
  phoneAgain: 'Send en ny kode',
  phoneAgainTitle: 'Fik du ingen kode?',
  stepAuthTitle: 'Vælg MitID-identifikationsmiddel',
  authLegend: 'Identifikationsmiddel',
  kind_app: 'MitID-app',
  'kind_code-display': 'MitID kodeviser',
  'kind_audio-reader': 'MitID kodeoplæser',
  kind_chip: 'MitID chip',
  placementLegend: 'Hvor skal appen være?',
  'placement_new-device': 'I MitID-appen på en anden telefon, fx en arbejdstelefon',
  'placement_private-phone':
    'I MitID-appen på min private telefon (så kan biometri ikke bruges til det separate MitID)',
  stepAppTitle: 'Aktivér MitID-appen',
  stepAppIntro:
    'Åbn MitID-appen, tryk “Kom i gang”, og indtast bruger-ID og aktiveringskode – eller scan QR-koden. Luk ikke denne side.',
  appActivationQrAlt: 'QR-kode med bruger-ID og aktiveringskode til MitID-appen',
  appDoneNoJs: 'Når appen er aktiveret, så tryk på “Fortsæt”.',
  appNewCode: 'Vis en ny aktiveringskode',
  appCodeMissing: 'Aktiveringskoden vises kun én gang. Bed om en ny, hvis du mangler den.',
  stepDeviceTitle: 'Aktivér din',
  stepDeviceIntro:
    'Indtast serienummeret fra bagsiden og den kode, enheden viser (kodeoplæseren læser den op), når du trykker på knappen.',
  serial: 'Serienummer',
  deviceCode: 'Kode fra enheden',
  activate: 'Aktivér',
  stepChipTitle: 'Registrér din MitID chip',
  stepChipIntro:
    'Sæt chippen i, tryk på “Registrér chip”, og tryk på chippens knap, når browseren beder om det.',
  chipSerial: 'Serienummer (valgfrit)',
  chipRegister: 'Registrér chip',
  chipNeedsJs: 'Registrering af chippen kræver JavaScript og en browser med WebAuthn.',
  chipFailed: 'Chippen svarede ikke. Prøv igen.',
  tryAgain: 'Prøv igen',
  stepPasswordTitle: 'Vælg adgangskode',
  stepPasswordHelp:
    '8–64 tegn. Må ikke indeholde dit bruger-ID, 10 cifre i træk, ordet “kodeord” eller “password” eller tastaturrækker som “qwertyui”.',
  passwordRepeat: 'Gentag adgangskode',
  passwordMismatch: 'De to adgangskoder er ikke ens.',
  stepFinishTitle: 'Afslut aktivering',
  stepFinishIntro: 'Alt er klar. Tryk på “Afslut aktivering” for at blive aktiveret som bruger hos',
  finish: 'Afslut aktivering',
  doneTitle: 'Du er aktiveret',
  doneText: 'Du er nu aktiveret som bruger i MitID Erhverv hos',
  doneMail: 'Du får en bekræftelse på e-mail.',
  doneWith: 'Med',
  mitid_private: 'dit private MitID',
  mitid_separate: 'et separat MitID',
  doneUserId: 'Bruger-ID',
  doneAuth: 'Identifikationsmiddel',
  noActivationTitle: 'Ingen aktivering i gang',
  noActivationText:
    'Der er ingen aktivering i gang i denne browser. Åbn linket i aktiverings-e-mailen igen.',
  // Login.
  loginTitle: 'Log på med MitID',
  loginIntro: 'Log på med dit bruger-ID og dit MitID-identifikationsmiddel.',
  authenticatorSelect: 'Identifikationsmiddel',
  authAny: 'Det, jeg har',
  loginCodeTitle: 'Indtast kode',
  loginCodeHelp: 'Tryk på knappen på din kodeviser eller kodeoplæser og indtast koden.',
  loginPasswordTitle: 'Indtast adgangskode',
  loginChipTitle: 'Brug din MitID chip',
  loginChipIntro: 'Tryk på “Brug chip”, og tryk på chippens knap, når browseren beder om det.',
  chipLogin: 'Brug chip',
  loginAppTitle: 'Godkend i MitID-appen',
  loginDoneTitle: 'Du er logget på',
  loggedInAs: 'Logget på som',
  forOrganisations: 'for organisationerne',
  noOrganisations: 'Ingen organisationer endnu.',
  newLogin: 'Log på igen',
  noLoginTitle: 'Intet log på i gang',
  noLoginText: 'Start forfra med dit bruger-ID.',
  // Admin.
  adminSignInTitle: 'Log på administrationen',
  adminSignInHelp:
    'Indsæt dit administrator-token (fra mitid-sim admin token eller demoen). Det gemmes i en cookie, som kun serveren kan læse.',
  adminToken: 'Administrator-token',
  signIn: 'Log på',
  signOut: 'Log af',
  adminBadToken: 'Administrator-tokenet er ikke gyldigt.',
  adminTitle: 'Administration',
  adminYou: 'Du er',
  adminOrg: 'Organisation',
  roleUserAdministrator: 'brugeradministrator',
  roleOrganisationAdministrator: 'organisationsadministrator',
  roleRightsAdministrator: 'rettighedsadministrator',
  roleTrustedEmployee: 'betroet medarbejder',
  adminUsers: 'Brugere',
  adminNewUser: 'Opret bruger',
  adminSettings: 'Organisationens indstillinger',
  usersTitle: 'Brugere',
  colName: 'Navn',
  colEmail: 'E-mail',
  colState: 'Status',
  colUserId: 'Bruger-ID',
  colMitid: 'MitID',
  colKind: 'Type',
  colSerial: 'Serienummer',
  colLockout: 'Spærring',
  colStatus: 'Status',
  noUsers: 'Ingen brugere endnu.',
  state_created: 'Oprettet, ikke aktiveret',
  state_activated: 'Aktiveret',
  state_blocked: 'Spærret',
  lockout_open: 'Åben',
  'lockout_temporarily-blocked': 'Midlertidigt spærret',
  lockout_blocked: 'Spærret',
  newUserTitle: 'Opret bruger',
  firstName: 'Fornavn',
  surname: 'Efternavn',
  email: 'E-mail',
  phoneOptional: 'Telefonnummer (valgfrit)',
  identifyBy: 'Identificér brugeren med',
  byCpr: 'CPR-nummer',
  byBirthDate: 'Fødselsdato (brugeren får en aktiveringskode af dig)',
  cpr: 'CPR-nummer (ddmmåå-xxxx)',
  birthDate: 'Fødselsdato (åååå-mm-dd)',
  separateAllowed: 'Brugeren må få et separat MitID',
  create: 'Opret',
  userTitle: 'Bruger',
  devices: 'Identifikationsmidler',
  noDevices: 'Ingen.',
  orders: 'Bestillinger',
  noOrders: 'Ingen.',
  liveLink: 'Aktiveringslink gyldigt',
  yes: 'Ja',
  no: 'Nej',
  resend: 'Send aktiverings-e-mail igen',
  resent: 'Aktiverings-e-mailen er sendt igen. Det gamle link virker ikke længere.',
  showCode: 'Lav en ny aktiveringskode',
  codeToHand:
    'Aktiveringskode – giv den til brugeren på en sikker måde. Den vises kun denne ene gang:',
  orderDevice: 'Bestil fra lageret',
  order: 'Bestil',
  ordered: 'Bestilt.',
  settingsTitle: 'Organisationens indstillinger',
  privateAllowed: 'Brugerne må bruge deres private MitID',
  separateAuths: 'Identifikationsmidler til separat MitID',
  preselected: 'Forvalgt identifikationsmiddel',
  save: 'Gem',
  saved: 'Gemt.',
  settingsReadOnly: 'Kun organisationsadministratorer kan ændre indstillingerne.',
  // Dev.
  mailboxTitle: 'Postkasse',
  mailboxIntro: 'E-mails, som tjenesten har sendt til den indbyggede postkasse.',
  noMail: 'Ingen e-mails endnu.',
  mailTitle: 'E-mail',
  mailFrom: 'Fra',
  mailTo: 'Til',
  mailSubject: 'Emne',
  mailDate: 'Modtaget',
  mailHtml: 'E-mailen som HTML',
  mailText: 'E-mailen som tekst',
  mailLink: 'Aktiveringslink i e-mailen',
  smsTitle: 'SMS-udbakke',
  smsIntro: 'SMS-beskeder, som tjenesten har sendt.',
  noSms: 'Ingen SMS endnu.',
  colTo: 'Til',
  colText: 'Tekst',
  colTime: 'Tid',
  filterTo: 'Kun til telefonnummer',
  filter: 'Filtrér',
};

/** The keys of the texts. */
export type TextKey = keyof typeof da;

const en: Record<TextKey, string> = {
  siteName: 'MitID Erhverv (simulator)',
  skip: 'Skip to content',
  nav: 'Main menu',
  switchTo: 'Dansk',
  navHome: 'Home',
  navLogin: 'Log in',
  navAdmin: 'Administration',
  navMailbox: 'Mailbox',
  navSms: 'SMS',
  next: 'Next',
  continue: 'Continue',
  errorTitle: 'Something went wrong',
  errorPrefix: 'Error:',
  notFound: 'Page not found',
  notFoundText: 'There is no page at this address.',
  forbiddenTitle: 'The action was refused',
  csrfText:
    'The form had expired or did not come from this page. Go back, reload the page and try again.',
  internal: 'Something went wrong on our side. Try again shortly.',
  backHome: 'To the home page',
  landingTitle: 'Activation in MitID Erhverv – simulator',
  landingIntro:
    'Try the whole activation of a MitID Erhverv user here, with emulated MitID authenticators: code display, audio code reader, chip and app.',
  landingHowTitle: 'How to begin',
  landingStep1:
    "A new data folder gets a sandbox when mitid-sim serve starts: see The sandbox below. Otherwise create an organisation with a user administrator with the command line (mitid-sim org create --cvr … --name … --admin-name … --admin-email …, then mitid-sim admin token --cvr …), and sign in to the administration with the administrator's token.",
  landingStep2:
    'Create a user with a CPR number or a date of birth. The user receives an activation e-mail.',
  landingStep3: 'Open the e-mail in the mailbox and follow the “Start activation” link.',
  landingStep4:
    'Log in with the private MitID, choose private or separate MitID, and follow the steps to “Finish activation”. SMS codes are under SMS.',
  landingStep5: 'Afterwards, log in with the new MitID under “Log in”.',
  landingLinks: 'Shortcuts',
  linkSandbox: 'The sandbox (developer tool)',
  linkDevices: 'Emulated devices (developer tool)',
  linkMailbox: 'The mailbox (developer tool)',
  linkSms: 'The SMS outbox (developer tool)',
  linkLogin: 'Log in with MitID',
  linkAdmin: 'Administration',
  linkTitle: 'Activate yourself as a user in MitID Erhverv',
  linkIntro: 'You have been created as a user of',
  linkFor: 'For',
  linkExpires: 'The link works until and including',
  linkNeedsCode: 'You need the activation code your user administrator gave you.',
  linkPrivacy:
    'You log in with your private MitID to confirm who you are. Your personal data are not shared with the organisation.',
  startActivation: 'Start activation',
  linkErrorTitle: 'The activation link does not work',
  privateLoginTitle: 'Log in with your private MitID',
  privateLoginIntro:
    'Use your user ID, a code from your code display or audio code reader, and your password. Or use the MitID app.',
  withDevice: 'With a code display or audio code reader',
  withApp: 'With the MitID app',
  userId: 'User ID',
  code: 'Code',
  password: 'Password',
  logIn: 'Log in',
  useApp: 'Use the MitID app',
  appWaitTitle: 'Approve in the MitID app',
  appWaitIntro:
    'Scan the QR code with the MitID app, or use the 4-digit code, and approve. The page moves on by itself once you have approved.',
  qrAlt: 'QR code for the MitID app',
  channelCode: '4-digit code',
  waiting: 'Waiting for approval …',
  appNoJs: 'Press “Continue” once you have approved in the app.',
  stepChooseTitle: 'Private or separate MitID',
  stepChooseIntro: 'Do you want to use your private MitID when acting on behalf of',
  choosePrivate: 'Yes, I wish to use my private MitID',
  chooseSeparate: 'No, I want a separate MitID',
  onlyPrivateNote:
    'Your organisation allows private MitID only. If you do not want to use it, contact your user administrator.',
  onlySeparateNote: 'Your organisation allows a separate MitID only.',
  stepUserIdTitle: 'Create a user ID',
  stepUserIdHelp:
    '5–48 characters: letters a–å, digits, space and { } ! # $ ^ , * ( ) _ + - = : ; ? . @. Must not be your CPR number or 10 digits.',
  stepCodeTitle: 'Enter the activation code',
  stepCodeHelp: 'Your user administrator gave you the code. It is blocked after 3 wrong tries.',
  activationCode: 'Activation code',
  stepCodeNew: 'I have a new activation code',
  stepPhoneTitle: 'Your phone number',
  stepPhoneHelp:
    'You receive a verification code by SMS, and messages about changes to your user go here.',
  phone: 'Phone number',
  stepPhoneCodeTitle: 'Enter the verification code',
  stepPhoneCodeHelp: 'We sent a 6-digit code by SMS to',
  phoneCode: 'Verification code from the SMS',
  phoneAgain: 'Send a new code',
  phoneAgainTitle: 'No code received?',
  stepAuthTitle: 'Choose your MitID authenticator',
  authLegend: 'Authenticator',
  kind_app: 'MitID app',
  'kind_code-display': 'MitID code display',
  'kind_audio-reader': 'MitID audio code reader',
  kind_chip: 'MitID chip',
  placementLegend: 'Where will the app be?',
  'placement_new-device': 'In the MitID app on another phone, e.g. a work phone',
  'placement_private-phone':
    'In the MitID app on my private phone (biometrics then cannot be used for the separate MitID)',
  stepAppTitle: 'Activate the MitID app',
  stepAppIntro:
    'Open the MitID app, tap “Get started”, and enter the user ID and activation code – or scan the QR code. Do not close this page.',
  appActivationQrAlt: 'QR code with the user ID and activation code for the MitID app',
  appDoneNoJs: 'Once the app is activated, press “Continue”.',
  appNewCode: 'Show a new activation code',
  appCodeMissing: 'The activation code is shown only once. Ask for a new one if you need it.',
  stepDeviceTitle: 'Activate your',
  stepDeviceIntro:
    'Enter the serial number from the back and the code the device shows (the audio code reader reads it aloud) when you press its button.',
  serial: 'Serial number',
  deviceCode: 'Code from the device',
  activate: 'Activate',
  stepChipTitle: 'Register your MitID chip',
  stepChipIntro:
    "Connect the chip, press “Register chip”, and press the chip's button when the browser asks.",
  chipSerial: 'Serial number (optional)',
  chipRegister: 'Register chip',
  chipNeedsJs: 'Registering the chip needs JavaScript and a browser with WebAuthn.',
  chipFailed: 'The chip did not answer. Try again.',
  tryAgain: 'Try again',
  stepPasswordTitle: 'Choose a password',
  stepPasswordHelp:
    '8–64 characters. Must not contain your user ID, 10 digits in a row, the word “password” or “kodeord”, or keyboard runs such as “qwertyui”.',
  passwordRepeat: 'Repeat the password',
  passwordMismatch: 'The two passwords are not the same.',
  stepFinishTitle: 'Finish activation',
  stepFinishIntro: 'All is ready. Press “Finish activation” to be activated as a user of',
  finish: 'Finish activation',
  doneTitle: 'You are activated',
  doneText: 'You are now activated as a user in MitID Erhverv of',
  doneMail: 'A confirmation follows by e-mail.',
  doneWith: 'With',
  mitid_private: 'your private MitID',
  mitid_separate: 'a separate MitID',
  doneUserId: 'User ID',
  doneAuth: 'Authenticator',
  noActivationTitle: 'No activation in progress',
  noActivationText:
    'No activation is in progress in this browser. Open the link in the activation e-mail again.',
  loginTitle: 'Log in with MitID',
  loginIntro: 'Log in with your user ID and your MitID authenticator.',
  authenticatorSelect: 'Authenticator',
  authAny: 'The one I have',
  loginCodeTitle: 'Enter the code',
  loginCodeHelp: 'Press the button on your code display or audio code reader and enter the code.',
  loginPasswordTitle: 'Enter your password',
  loginChipTitle: 'Use your MitID chip',
  loginChipIntro: "Press “Use chip”, and press the chip's button when the browser asks.",
  chipLogin: 'Use chip',
  loginAppTitle: 'Approve in the MitID app',
  loginDoneTitle: 'You are logged in',
  loggedInAs: 'Logged in as',
  forOrganisations: 'for the organisations',
  noOrganisations: 'No organisations yet.',
  newLogin: 'Log in again',
  noLoginTitle: 'No login in progress',
  noLoginText: 'Start again with your user ID.',
  adminSignInTitle: 'Sign in to the administration',
  adminSignInHelp:
    'Paste your administrator token (from mitid-sim admin token or the demo). It is kept in a cookie only the server can read.',
  adminToken: 'Administrator token',
  signIn: 'Sign in',
  signOut: 'Sign out',
  adminBadToken: 'The administrator token is not valid.',
  adminTitle: 'Administration',
  adminYou: 'You are',
  adminOrg: 'Organisation',
  roleUserAdministrator: 'user administrator',
  roleOrganisationAdministrator: 'organisation administrator',
  roleRightsAdministrator: 'rights administrator',
  roleTrustedEmployee: 'trusted employee',
  adminUsers: 'Users',
  adminNewUser: 'Create a user',
  adminSettings: "The organisation's settings",
  usersTitle: 'Users',
  colName: 'Name',
  colEmail: 'E-mail',
  colState: 'State',
  colUserId: 'User ID',
  colMitid: 'MitID',
  colKind: 'Kind',
  colSerial: 'Serial number',
  colLockout: 'Lockout',
  colStatus: 'Status',
  noUsers: 'No users yet.',
  state_created: 'Created, not activated',
  state_activated: 'Activated',
  state_blocked: 'Blocked',
  lockout_open: 'Open',
  'lockout_temporarily-blocked': 'Temporarily blocked',
  lockout_blocked: 'Blocked',
  newUserTitle: 'Create a user',
  firstName: 'First name',
  surname: 'Surname',
  email: 'E-mail',
  phoneOptional: 'Phone number (optional)',
  identifyBy: 'Identify the user by',
  byCpr: 'CPR number',
  byBirthDate: 'Date of birth (you give the user an activation code)',
  cpr: 'CPR number (ddmmyy-xxxx)',
  birthDate: 'Date of birth (yyyy-mm-dd)',
  separateAllowed: 'The user may get a separate MitID',
  create: 'Create',
  userTitle: 'User',
  devices: 'Authenticators',
  noDevices: 'None.',
  orders: 'Orders',
  noOrders: 'None.',
  liveLink: 'Activation link valid',
  yes: 'Yes',
  no: 'No',
  resend: 'Resend the activation e-mail',
  resent: 'The activation e-mail was sent again. The old link no longer works.',
  showCode: 'Make a new activation code',
  codeToHand: 'Activation code – hand it to the user securely. It is shown this once only:',
  orderDevice: 'Order from the inventory',
  order: 'Order',
  ordered: 'Ordered.',
  settingsTitle: "The organisation's settings",
  privateAllowed: 'Users may use their private MitID',
  separateAuths: 'Authenticators for a separate MitID',
  preselected: 'Preselected authenticator',
  save: 'Save',
  saved: 'Saved.',
  settingsReadOnly: 'Only organisation administrators can change the settings.',
  mailboxTitle: 'Mailbox',
  mailboxIntro: 'E-mails the service sent to the built-in mailbox.',
  noMail: 'No e-mails yet.',
  mailTitle: 'E-mail',
  mailFrom: 'From',
  mailTo: 'To',
  mailSubject: 'Subject',
  mailDate: 'Received',
  mailHtml: 'The e-mail as HTML',
  mailText: 'The e-mail as text',
  mailLink: 'Activation link in the e-mail',
  smsTitle: 'SMS outbox',
  smsIntro: 'SMS messages the service sent.',
  noSms: 'No SMS yet.',
  colTo: 'To',
  colText: 'Text',
  colTime: 'Time',
  filterTo: 'Only to phone number',
  filter: 'Filter',
};

const TEXTS: Record<Lang, Record<TextKey, string>> = { da, en };

/** A text in a language. */
export function text(lang: Lang, key: TextKey): string {
  return TEXTS[lang][key];
}

/** A text whose key is built at run time (e.g. `kind_chip`); the key itself when unknown. */
export function textOf(lang: Lang, key: string): string {
  return (TEXTS[lang] as Record<string, string>)[key] ?? key;
}

/** True for a supported language tag. */
export function isLang(v: unknown): v is Lang {
  return v === 'da' || v === 'en';
}

/**
 * The language of a request: `?lang=`, else the language cookie, else the first of da/en in
 * Accept-Language, else Danish.
 */
export function pickLang(req: FastifyRequest, cookie: string | undefined): Lang {
  const q = (req.query as Record<string, unknown> | undefined)?.lang;
  if (isLang(q)) return q;
  if (isLang(cookie)) return cookie;
  const accept = req.headers['accept-language'];
  if (typeof accept === 'string') {
    const tags = accept
      .split(',')
      .map((part) => {
        const [tag = '', ...params] = part.trim().split(';');
        const qv = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
        return { tag: tag.toLowerCase(), q: qv === undefined ? 1 : Number(qv) };
      })
      .filter((x) => x.q > 0)
      .sort((a, b) => b.q - a.q);
    for (const t of tags) {
      const primary = t.tag.split('-')[0];
      if (primary === 'da' || primary === 'nb' || primary === 'no') return 'da';
      if (primary === 'en') return 'en';
    }
  }
  return 'da';
}

/** The administrators' names and addresses at the end of an English refusal ("...: A <a@b>, ..."). */
function contactsIn(message: string, detail: Record<string, unknown>): string {
  const list = detail.contacts;
  if (Array.isArray(list) && list.length > 0)
    return list
      .map((c: { name?: unknown; email?: unknown }) => `${String(c.name)} <${String(c.email)}>`)
      .join(', ');
  const i = message.lastIndexOf(': ');
  return i < 0 ? 'MitID Erhverv Support' : message.slice(i + 2).replace(/\.$/, '');
}

/**
 * A refusal of the flow in the page's language: the flow's English text, or a Danish wording of
 * the refusals a user meets (with the same administrators named).
 */
export function errorText(
  lang: Lang,
  code: string,
  message: string,
  detail: Record<string, unknown> = {},
): string {
  if (lang === 'en') return message;
  const tries = typeof detail.triesLeft === 'number' ? detail.triesLeft : undefined;
  const triesDa =
    tries === undefined ? '' : ` ${tries} ${tries === 1 ? 'forsøg' : 'forsøg'} tilbage.`;
  switch (code) {
    case 'link-expired':
      return `Aktiveringslinket er udløbet. Kontakt din brugeradministrator, som kan sende dig et nyt: ${contactsIn(message, detail)}.`;
    case 'link-not-valid':
    case 'link-used':
      return `Aktiveringslinket kan ikke længere bruges. Kontakt din brugeradministrator, som kan sende dig et nyt: ${contactsIn(message, detail)}.`;
    case 'separate-not-allowed':
      return `Din organisation lader dig kun bruge dit private MitID. Vil du ikke det, så bed din brugeradministrator om at tillade et separat MitID: ${contactsIn(message, detail)}.`;
    case 'private-not-allowed':
      return 'Din organisation tillader ikke privat MitID.';
    case 'activation-code-blocked':
      return `Aktiveringskoden er spærret eller ikke længere gyldig. Bed din brugeradministrator om en ny: ${contactsIn(message, detail)}.`;
    case 'activation-code-wrong':
      return `Aktiveringskoden er forkert.${triesDa}`;
    case 'sms-code-wrong':
      return `Bekræftelseskoden er forkert.${triesDa}`;
    case 'sms-code-blocked':
      return 'Bekræftelseskoden er spærret eller udløbet. Indtast dit telefonnummer igen for at få en ny.';
    case 'private-login-failed':
      return 'Vi kunne ikke bekræfte din identitet med dit private MitID. Tjek bruger-ID, kode og adgangskode.';
    case 'login-failed':
      return 'Log på mislykkedes. Tjek bruger-ID, kode og adgangskode; efter gentagne fejl spærres identifikationsmidlet.';
    case 'identity-mismatch':
      return 'Dit private MitID tilhører ikke den person, aktiverings-e-mailen blev sendt til. Kontakt din brugeradministrator.';
    case 'already-activated':
      return 'Du er allerede aktiveret som bruger.';
    case 'device-not-accepted':
      return 'Serienummeret eller koden er ikke rigtig (eller chippens registrering blev ikke godkendt). Prøv igen.';
    case 'device-tries-used':
      return 'For mange forkerte forsøg. Start aktiveringen igen fra det link, din administrator sender igen.';
    case 'rate-limited':
      return 'For mange forsøg. Vent lidt, og prøv igen.';
    case 'activation-not-found':
      return 'Aktiveringen er afsluttet eller udløbet. Åbn linket i aktiverings-e-mailen igen, eller bed din brugeradministrator om et nyt.';
    case 'login-not-found':
      return 'Log på er afsluttet eller udløbet. Start forfra.';
    default:
      return message;
  }
}
