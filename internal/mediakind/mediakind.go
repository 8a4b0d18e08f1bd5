// Package mediakind tells what media bytes are by their signature, for
// the backends that send them: an image, record or video segment must
// carry what it says (a platform shows a text file sent as an image as a
// broken picture, and a PNG sent as a voice message as a silent one), and
// audio and video want their length. It knows no platform and no OneBot
// beyond the segment type names.
package mediakind

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// Format is a recognised format: its MIME type and the segment kinds it
// may travel as.
type Format struct {
	MIME  string
	Kinds string // any of "i" (image), "a" (audio), "v" (video)
}

// Sniff names the format of data; ok is false for none it knows.
func Sniff(data []byte) (f Format, ok bool) {
	has := func(off int, sig string) bool {
		return len(data) >= off+len(sig) && string(data[off:off+len(sig)]) == sig
	}
	switch {
	// Images.
	case has(0, "\x89PNG\r\n\x1a\n"):
		return Format{"image/png", "i"}, true
	case has(0, "\xff\xd8\xff"):
		return Format{"image/jpeg", "i"}, true
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return Format{"image/gif", "i"}, true
	case has(0, "RIFF") && has(8, "WEBP"):
		return Format{"image/webp", "i"}, true
	case has(0, "BM") && len(data) >= 26 && has(6, "\x00\x00\x00\x00"): // the header's reserved words are zero
		return Format{"image/bmp", "i"}, true
	case (has(0, "\x00\x00\x01\x00") || has(0, "\x00\x00\x02\x00")) && len(data) >= 22 && (data[4] != 0 || data[5] != 0):
		return Format{"image/x-icon", "i"}, true
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return Format{"image/tiff", "i"}, true
	case has(4, "ftyp"):
		return ftypFormat(data), true

	// Audio.
	case has(0, "ID3"):
		return Format{"audio/mpeg", "a"}, true
	case has(0, "OggS"):
		return Format{"audio/ogg", "a"}, true
	case has(0, "RIFF") && has(8, "WAVE"):
		return Format{"audio/wav", "a"}, true
	case has(0, "FORM") && (has(8, "AIFF") || has(8, "AIFC")):
		return Format{"audio/aiff", "a"}, true
	case has(0, "fLaC"):
		return Format{"audio/flac", "a"}, true
	case has(0, "#!AMR"):
		return Format{"audio/amr", "a"}, true
	case has(0, "#!SILK"), has(0, "\x02#!SILK"): // the second is Tencent's silk_v3
		return Format{"audio/silk", "a"}, true
	case len(data) >= 4 && data[0] == 0xff && data[1]&0xe0 == 0xe0:
		// An MPEG audio frame: 11 sync bits, then version and layer.
		// Layer 0 with a 12-bit sync is AAC in ADTS; layers 1-3 are MP3
		// and its older kin. JPEG's FF D8 never gets here (D8 & E0 = C0).
		switch layer := data[1] >> 1 & 3; {
		case layer == 0 && data[1]&0xf0 == 0xf0:
			return Format{"audio/aac", "a"}, true
		case layer != 0 && data[1]>>3&3 != 1 && data[2]>>4 != 0xf: // a valid version and bitrate
			return Format{"audio/mpeg", "a"}, true
		}

	// Containers for sound or pictures.
	case has(0, "\x1a\x45\xdf\xa3"):
		return Format{"video/webm", "av"}, true

	// Video.
	case has(0, "RIFF") && has(8, "AVI "):
		return Format{"video/avi", "v"}, true
	case has(0, "FLV\x01"):
		return Format{"video/x-flv", "v"}, true
	case has(0, "\x00\x00\x01\xba"):
		return Format{"video/mpeg", "v"}, true
	case len(data) > 188 && data[0] == 0x47 && data[188] == 0x47 && (len(data) <= 376 || data[376] == 0x47):
		return Format{"video/mp2t", "v"}, true
	case has(4, "moov"), has(4, "mdat"), has(4, "wide"), has(4, "free"):
		return Format{"video/quicktime", "v"}, true // QuickTime without an ftyp box
	}
	return Format{}, false
}

// ftypFormat tells an ISO base media file by its major brand: HEIF and
// AVIF are images, M4A audio, the rest (mp4, mov, 3gp, …) audio or video.
// The compatible brands only refine a generic HEIF major brand.
func ftypFormat(data []byte) Format {
	size := int(data[0])<<24 | int(data[1])<<16 | int(data[2])<<8 | int(data[3])
	end := min(max(size, 16), len(data), 256)
	major := string(data[8:min(12, len(data))])
	image := func(b string) (Format, bool) {
		switch b {
		case "avif", "avis":
			return Format{"image/avif", "i"}, true
		case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
			return Format{"image/heic", "i"}, true
		}
		return Format{}, false
	}
	if f, ok := image(major); ok {
		if major == "mif1" || major == "msf1" {
			for off := 16; off+4 <= end; off += 4 {
				if g, ok := image(string(data[off : off+4])); ok && g.MIME == "image/avif" {
					return g
				}
			}
		}
		return f
	}
	switch {
	case major == "M4A " || major == "M4B " || major == "M4P " || major == "F4A ":
		return Format{"audio/mp4", "a"}
	case major == "qt  ":
		return Format{"video/quicktime", "av"}
	case strings.HasPrefix(major, "3g"):
		return Format{"video/3gpp", "av"}
	}
	return Format{"video/mp4", "av"}
}

// Check answers whether data may travel as a segment of type typ (a file
// segment takes anything); the error names param and says what the data
// looks like instead, ready to be a bad-parameter answer.
func Check(typ, param string, data []byte) error {
	want, noun := map[string]string{
		segment.TypeImage: "i", segment.TypeRecord: "a", segment.TypeVideo: "v",
	}[typ], map[string]string{
		segment.TypeImage: "an image", segment.TypeRecord: "audio", segment.TypeVideo: "a video",
	}[typ]
	if want == "" {
		return nil
	}
	f, ok := Sniff(data)
	if ok && strings.Contains(f.Kinds, want) {
		return nil
	}
	looks := f.MIME
	if !ok {
		looks, _, _ = strings.Cut(http.DetectContentType(data), ";")
		if bytes.Equal(bytes.TrimSpace(data), nil) {
			looks = "empty"
		}
	}
	return fmt.Errorf("%s: the data is not %s (looks like %s)", param, noun, looks)
}

// Duration reads the length in seconds, rounded up, of an MP4/M4A (the
// movie header) or a WAV file (data size over byte rate); 0 when the format
// is another or the header is not where it should be.
func Duration(data []byte) int64 {
	if len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WAVE" {
		return wavDuration(data[12:])
	}
	return mp4Duration(data)
}

func wavDuration(chunks []byte) int64 {
	var byteRate uint32
	for len(chunks) >= 8 {
		id, size := string(chunks[:4]), binary.LittleEndian.Uint32(chunks[4:8])
		body := chunks[8:]
		switch {
		case id == "fmt " && len(body) >= 12:
			byteRate = binary.LittleEndian.Uint32(body[8:12])
		case id == "data" && byteRate > 0:
			return int64((uint64(size) + uint64(byteRate) - 1) / uint64(byteRate))
		}
		if uint64(size) > uint64(len(body)) {
			return 0
		}
		chunks = body[size+size%2:]
	}
	return 0
}

// mp4Duration walks the top-level boxes to moov/mvhd.
func mp4Duration(data []byte) int64 {
	for box := data; len(box) >= 8; {
		size, typ := uint64(binary.BigEndian.Uint32(box[:4])), string(box[4:8])
		hdr := uint64(8)
		if size == 1 && len(box) >= 16 {
			size, hdr = binary.BigEndian.Uint64(box[8:16]), 16
		}
		if size == 0 {
			size = uint64(len(box))
		}
		if size < hdr || size > uint64(len(box)) {
			return 0
		}
		body := box[hdr:size]
		switch typ {
		case "moov":
			return mp4Duration(body)
		case "mvhd":
			var scale, dur uint64
			switch {
			case len(body) >= 20 && body[0] == 0:
				scale, dur = uint64(binary.BigEndian.Uint32(body[12:16])), uint64(binary.BigEndian.Uint32(body[16:20]))
			case len(body) >= 32 && body[0] == 1:
				scale, dur = uint64(binary.BigEndian.Uint32(body[20:24])), binary.BigEndian.Uint64(body[24:32])
			}
			if scale == 0 {
				return 0
			}
			return int64((dur + scale - 1) / scale)
		}
		box = box[size:]
	}
	return 0
}
