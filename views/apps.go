package views

// authenticatorApps are the apps the setup page names: product names, the
// same in every language, so not in the catalogs.
var authenticatorApps = []string{"FreeOTP", "Microsoft Authenticator", "Google Authenticator"}
