// A stand-in for github.com/asaskevich/govalidator holding only
// IsRequestURL, the one function fosite calls. The real package compiles
// about sixty regular expressions at start-up (~260 KB of live heap, about
// 0.6 MB resident at idle). Used through the replace directive in authz's
// go.mod; tested in internal/oauth.
module github.com/asaskevich/govalidator

go 1.22
