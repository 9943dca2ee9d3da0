// The WebAuthn ceremony, one of the two scripts authz serves. A form marked
// data-webauthn="create" or "get" carries the server's options in
// data-options; its button runs navigator.credentials, puts the answer in
// the hidden "credential" field and posts the form. Messages come from the
// page (data-msg-*), so translations stay in the templates.
(function () {
  "use strict";
  var form = document.querySelector("form[data-webauthn]");
  if (!form) { return; }
  var button = form.querySelector("button[data-ceremony]");
  var field = form.querySelector("input[name=credential]");
  var box = document.getElementById("webauthn-error");

  function show(msg) { box.textContent = msg; box.hidden = false; }
  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var b = atob(s), u = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) { u[i] = b.charCodeAt(i); }
    return u.buffer;
  }
  function toB64(buf) {
    if (!buf) { return undefined; }
    var u = new Uint8Array(buf), s = "";
    for (var i = 0; i < u.length; i++) { s += String.fromCharCode(u[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function ids(list) {
    return (list || []).map(function (c) { c.id = toBuf(c.id); return c; });
  }

  if (!window.PublicKeyCredential || !navigator.credentials) {
    show(form.dataset.msgUnsupported);
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var pk = JSON.parse(form.dataset.options).publicKey;
    pk.challenge = toBuf(pk.challenge);
    var ceremony;
    if (form.dataset.webauthn === "create") {
      pk.user.id = toBuf(pk.user.id);
      pk.excludeCredentials = ids(pk.excludeCredentials);
      ceremony = navigator.credentials.create({ publicKey: pk });
    } else {
      pk.allowCredentials = ids(pk.allowCredentials);
      ceremony = navigator.credentials.get({ publicKey: pk });
    }
    button.disabled = true;
    ceremony.then(function (cred) {
      var r = cred.response, out = {
        id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
        clientExtensionResults: cred.getClientExtensionResults(),
        response: { clientDataJSON: toB64(r.clientDataJSON) }
      };
      if (r.attestationObject) {
        out.response.attestationObject = toB64(r.attestationObject);
        out.response.transports = r.getTransports ? r.getTransports() : [];
      } else {
        out.response.authenticatorData = toB64(r.authenticatorData);
        out.response.signature = toB64(r.signature);
        out.response.userHandle = toB64(r.userHandle);
      }
      field.value = JSON.stringify(out);
      form.submit();
    }, function () {
      button.disabled = false;
      show(form.dataset.msgFailed);
    });
  });
}());
