package views

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static holds the stylesheet served under /static/.
var Static, _ = fs.Sub(static, "static")
