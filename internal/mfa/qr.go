package mfa

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

// DefaultQRSize is the edge in pixels of the QR code QRCodeDataURI renders:
// large enough for a phone camera at arm's length, small enough to inline.
const DefaultQRSize = 256

// quietZone is the white border, in modules, that QR scanners need to find the
// code; the QR specification asks for 4.
const quietZone = 4

// QRCodePNG renders uri as a size×size PNG QR code with a quiet zone. It uses the
// same encoder as otp.Key.Image (boombuler/barcode, level M) but draws the
// border itself, because Key.Image leaves none when size is a multiple of the
// module count and some apps then fail to scan.
func QRCodePNG(uri string, size int) ([]byte, error) {
	code, err := qr.Encode(uri, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("mfa: encode QR code: %w", err)
	}
	modules := code.Bounds().Dx()
	scale := size / (modules + 2*quietZone)
	if scale < 1 {
		return nil, fmt.Errorf("mfa: QR code of %d modules does not fit in %d pixels", modules, size)
	}
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	offset := (size - scale*modules) / 2
	for y := range modules {
		for x := range modules {
			if isDark(code.At(x, y)) {
				fill(img, offset+x*scale, offset+y*scale, scale)
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("mfa: encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

func isDark(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r+g+b < 3*0x8000
}

// fill paints one module black; palette index 1 is black.
func fill(img *image.Paletted, x0, y0, scale int) {
	for y := y0; y < y0+scale; y++ {
		for x := x0; x < x0+scale; x++ {
			img.SetColorIndex(x, y, 1)
		}
	}
}

// QRCodeDataURI renders uri as a DefaultQRSize PNG QR code in a data: URI, ready
// for an <img src>, so the secret never travels in a separate, cacheable request.
func QRCodeDataURI(uri string) (string, error) {
	b, err := QRCodePNG(uri, DefaultQRSize)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b), nil
}
