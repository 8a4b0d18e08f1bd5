package wukongim

import (
	"bytes"
	"context"
	"image"
	_ "image/gif" // image.DecodeConfig reads the sizes the image payload carries
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"strconv"

	"github.com/yunhu-onebot/yunhu-onebot/internal/mediahost"
	"github.com/yunhu-onebot/yunhu-onebot/internal/mediakind"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// Media. WuKongIM stores no files: a payload carries a URL. A medium given
// by http(s) URL is sent as that URL; one given as a local file or base64
// is read through the core (EncodeEnv.Media, which applies the operator's
// rules and size limit) and hosted by package mediahost: written under
// media.dir with a content-addressed name and linked as media.public-url +
// "/" + name; the backend's Callbacks handler serves that directory on
// media.address. Files older than media.Retention are pruned by Run.

// mediaPayload prepares an image, record, video or file segment: the
// payload to send and the segment as the store keeps it (its URL, never
// its bytes).
func (b *Backend) mediaPayload(ctx context.Context, i int, s segment.Segment, env platform.EncodeEnv) (Payload, segment.Segment, error) {
	p := Payload{Type: map[string]int{
		segment.TypeImage: typeImage, segment.TypeRecord: typeVoice,
		segment.TypeVideo: typeVideo, segment.TypeFile: typeFile,
	}[s.Type]}
	url, data, name, err := b.media.Resolve(ctx, i, s, env.Media, mediahost.Platform{
		Name: "WuKongIM", NoFiles: "WuKongIM stores no files", Key: "wukongim.media",
	})
	if err != nil {
		return p, s, err
	}
	p.URL = url
	switch s.Type {
	case segment.TypeImage:
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			p.Width, p.Height = num(cfg.Width), num(cfg.Height)
		}
	case segment.TypeRecord:
		p.TimeTrad = num(seconds(s, data))
	case segment.TypeVideo:
		p.Second = num(seconds(s, data))
	case segment.TypeFile:
		if name == "" {
			name = "file"
		}
		p.Name, p.Size = name, num(len(data))
		if len(data) == 0 {
			if n, ok := s.Int("file_size"); ok && n > 0 {
				p.Size = num(n)
			}
		}
	}
	stored := segment.Segment{Type: s.Type}
	stored.Set("file", p.URL)
	stored.Set("url", p.URL)
	if p.Name != "" {
		stored.Set("name", p.Name)
	}
	if p.Size > 0 {
		stored.Set("file_size", strconv.FormatInt(int64(p.Size), 10))
	}
	if d := max(p.TimeTrad, p.Second); d > 0 {
		stored.Set("duration", strconv.FormatInt(int64(d), 10))
	}
	return p, stored, nil
}

// seconds is a voice or video length: data.duration when the bot gives
// it, else read from the file when its format tells, else 0.
func seconds(s segment.Segment, data []byte) int64 {
	if n, ok := s.Int("duration"); ok && n > 0 {
		return n
	}
	return mediakind.Duration(data)
}

// Handler serves the hosted media (package mediahost): GET and HEAD of a
// hosted file's name, nothing else.
func (b *Backend) Handler() http.Handler { return b.media.Handler() }

// CallbackAddress is where the daemon serves Handler: media.address, and
// "" (no listener) unless media hosting is configured.
func (b *Backend) CallbackAddress() string { return b.media.Address() }
