package mediakind

import (
	"strings"
	"testing"
)

// TestSniffMedia: each signature the kind check knows, and the kinds it
// may travel as.
func TestSniffMedia(t *testing.T) {
	pad := func(s string) []byte { return append([]byte(s), make([]byte, 400)...) }
	ftyp := func(brand string) []byte {
		return pad("\x00\x00\x00\x18ftyp" + brand + "\x00\x00\x00\x00" + brand + "isom")
	}
	ts := make([]byte, 188*3)
	ts[0], ts[188], ts[376] = 0x47, 0x47, 0x47
	for _, c := range []struct {
		name  string
		data  []byte
		mime  string
		kinds string
	}{
		{"png", pad("\x89PNG\r\n\x1a\n"), "image/png", "i"},
		{"jpeg", pad("\xff\xd8\xff\xe0"), "image/jpeg", "i"},
		{"gif", pad("GIF89a"), "image/gif", "i"},
		{"webp", pad("RIFF\x00\x00\x00\x00WEBPVP8 "), "image/webp", "i"},
		{"bmp", pad("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), "image/bmp", "i"},
		{"ico", pad("\x00\x00\x01\x00\x01\x00"), "image/x-icon", "i"},
		{"tiff", pad("II*\x00"), "image/tiff", "i"},
		{"heic", pad("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), "image/heic", "i"},
		{"avif", pad("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), "image/avif", "i"},
		{"avif as mif1", pad("\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf"), "image/avif", "i"},
		{"mp3 id3", pad("ID3\x04\x00"), "audio/mpeg", "a"},
		{"mp3 frame", pad("\xff\xfb\x90\x64"), "audio/mpeg", "a"},
		{"aac adts", pad("\xff\xf1\x50\x80"), "audio/aac", "a"},
		{"m4a", ftyp("M4A "), "audio/mp4", "a"},
		{"ogg", pad("OggS\x00\x02"), "audio/ogg", "a"},
		{"wav", pad("RIFF\x00\x00\x00\x00WAVEfmt "), "audio/wav", "a"},
		{"flac", pad("fLaC\x00"), "audio/flac", "a"},
		{"amr", pad("#!AMR\n"), "audio/amr", "a"},
		{"amr-wb", pad("#!AMR-WB\n"), "audio/amr", "a"},
		{"silk", pad("#!SILK_V3"), "audio/silk", "a"},
		{"silk tencent", pad("\x02#!SILK_V3"), "audio/silk", "a"},
		{"webm", pad("\x1a\x45\xdf\xa3"), "video/webm", "av"},
		{"mp4", ftyp("isom"), "video/mp4", "av"},
		{"mov", ftyp("qt  "), "video/quicktime", "av"},
		{"3gp", ftyp("3gp5"), "video/3gpp", "av"},
		{"mov without ftyp", pad("\x00\x00\x00\x08wide"), "video/quicktime", "v"},
		{"avi", pad("RIFF\x00\x00\x00\x00AVI LIST"), "video/avi", "v"},
		{"flv", pad("FLV\x01\x05"), "video/x-flv", "v"},
		{"mpeg-ps", pad("\x00\x00\x01\xba"), "video/mpeg", "v"},
		{"mpeg-ts", ts, "video/mp2t", "v"},
	} {
		f, ok := Sniff(c.data)
		if !ok || f.MIME != c.mime || f.Kinds != c.kinds {
			t.Errorf("%s: %+v %v, want %s %q", c.name, f, ok, c.mime, c.kinds)
		}
	}
	for name, data := range map[string][]byte{
		"text":      []byte("hello, world\n"),
		"html":      []byte("<!doctype html><p>x"),
		"json":      []byte(`{"a":1}`),
		"pdf":       []byte("%PDF-1.7\n"),
		"zip":       []byte("PK\x03\x04"),
		"elf":       []byte("\x7fELF\x02\x01\x01"),
		"BM text":   []byte("BMW is a car maker, and this is text."),
		"empty":     nil,
		"bad frame": []byte("\xff\xff\xff\xff"),
		"short ts":  {0x47, 1, 2},
	} {
		if f, ok := Sniff(data); ok {
			t.Errorf("%s: sniffed as %+v", name, f)
		}
	}
	if err := Check("image", "image.file", []byte("hello\n")); err == nil || !strings.Contains(err.Error(), "image.file: the data is not an image (looks like text/plain") {
		t.Errorf("text as an image: %v", err)
	}
	if err := Check("file", "file.file", []byte("hello\n")); err != nil {
		t.Errorf("a file takes anything: %v", err)
	}
}
