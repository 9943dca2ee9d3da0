// Posts the form of an authorization response in response_mode form_post
// to the application at once; the page's button does the same without it.
document.getElementById("authz-form-post").submit();
