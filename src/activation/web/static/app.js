// The activation pages' only script: WebAuthn for the chip, and polling while the app is asked.
// Every page works without it except the chip (WebAuthn needs script).
/* global document, window, navigator, atob, btoa, fetch, setTimeout, PublicKeyCredential */
'use strict';

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

  /** base64url → ArrayBuffer. */
  function fromB64u(s) {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  /** ArrayBuffer → base64url. */
  function toB64u(buf) {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function')
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    return {
      ...json,
      challenge: fromB64u(json.challenge),
      user: { ...json.user, id: fromB64u(json.user.id) },
      excludeCredentials: (json.excludeCredentials ?? []).map((c) => ({
        ...c,
        id: fromB64u(c.id),
      })),
    };
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function')
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    return {
      ...json,
      challenge: fromB64u(json.challenge),
      allowCredentials: (json.allowCredentials ?? []).map((c) => ({ ...c, id: fromB64u(c.id) })),
    };
  }

  function credentialJson(cred) {
    if (typeof cred.toJSON === 'function') return cred.toJSON();
    const r = cred.response;
    const response = {
      clientDataJSON: toB64u(r.clientDataJSON),
    };
    if (r.attestationObject) {
      response.attestationObject = toB64u(r.attestationObject);
      if (typeof r.getTransports === 'function') response.transports = r.getTransports();
    } else {
      response.authenticatorData = toB64u(r.authenticatorData);
      response.signature = toB64u(r.signature);
      if (r.userHandle) response.userHandle = toB64u(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      response,
      clientExtensionResults: cred.getClientExtensionResults(),
      authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    };
  }

  function showError(message) {
    let box = document.getElementById('error');
    if (!box) {
      box = document.createElement('div');
      box.id = 'error';
      box.className = 'error';
      box.setAttribute('role', 'alert');
      box.tabIndex = -1;
      const h1 = document.querySelector('main h1');
      h1?.after(box);
    }
    box.textContent = message;
    box.focus();
  }

  // A page answering a refused form: the message first for keyboard and screen reader users.
  const refused = document.getElementById('error');
  if (refused) refused.focus();

  // --- WebAuthn (chip). ------------------------------------------------------------------------
  const form = document.getElementById('chip-form');
  const dataEl = document.getElementById('chip-options');
  if (form && window.PublicKeyCredential && navigator.credentials) {
    document.getElementById('webauthn-missing')?.setAttribute('hidden', '');
    const mode = form.getAttribute('data-webauthn');
    const button = form.querySelector('button[type="button"]');
    button?.addEventListener('click', async () => {
      if (!dataEl) return;
      const json = JSON.parse(dataEl.textContent ?? 'null');
      if (!json) return;
      button.disabled = true;
      try {
        if (mode === 'create') {
          const cred = await navigator.credentials.create({ publicKey: creationOptions(json) });
          form.querySelector('input[name="registration"]').value = JSON.stringify(
            credentialJson(cred),
          );
        } else {
          const cred = await navigator.credentials.get({ publicKey: requestOptions(json) });
          form.querySelector('input[name="assertion"]').value = JSON.stringify(
            credentialJson(cred),
          );
        }
        form.submit();
      } catch {
        button.disabled = false;
        showError(form.getAttribute('data-failed') ?? 'WebAuthn failed');
      }
    });
  }

  // --- Polling while the app is asked. ---------------------------------------------------------
  const poll = document.querySelector('[data-poll]');
  if (poll) {
    const url = poll.getAttribute('data-poll');
    const method = poll.getAttribute('data-poll-method') ?? 'GET';
    const waitStep = poll.getAttribute('data-poll-step');
    const every = 3000;
    const tick = async () => {
      try {
        const res = await fetch(url, {
          method,
          headers: { accept: 'application/json', 'x-csrf-token': csrf },
          credentials: 'same-origin',
        });
        const body = await res.json();
        if (waitStep !== null) {
          // The activation page: move on once the step has changed.
          if (body.step !== waitStep) {
            window.location.assign('/activation');
            return;
          }
        } else if (body.done) {
          if (body.next) {
            window.location.assign(body.next);
          } else {
            showError(body.error ?? '');
          }
          return;
        }
      } catch {
        // A network hiccup: try again on the next tick.
      }
      setTimeout(tick, every);
    };
    setTimeout(tick, every);
  }
})();
