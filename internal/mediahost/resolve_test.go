package mediahost

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// TestResolve: http(s) media pass as they are (a received segment's url
// when its file is a name), local and base64 media are read, checked and
// hosted, and each refusal is the bot's 1400 or a definite failure.
func TestResolve(t *testing.T) {
	ctx := context.Background()
	who := Platform{Name: "Chat", NoFiles: "Chat stores no files", Key: "chat.media"}
	img := pngBytes(t)
	load := func(_ context.Context, param, ref string) ([]byte, string, error) {
		if ref != "base64://x" {
			return nil, "", errors.New("unexpected ref " + ref)
		}
		return img, "cat.png", nil
	}
	seg := func(kv ...string) segment.Segment {
		s := segment.Segment{Type: segment.TypeImage}
		for i := 0; i < len(kv); i += 2 {
			s.Set(kv[i], kv[i+1])
		}
		return s
	}
	off, _ := New(Options{}, nil, nil)
	on, err := New(Options{Dir: t.TempDir(), PublicURL: "http://media.example/m/"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	if url, data, _, err := off.Resolve(ctx, 0, seg("file", "HTTPS://a.example/c.png"), nil, who); err != nil || url != "HTTPS://a.example/c.png" || data != nil {
		t.Errorf("http file: %q %d %v", url, len(data), err)
	}
	if url, _, _, err := off.Resolve(ctx, 0, seg("file", "c.png", "url", "http://a.example/c.png"), nil, who); err != nil || url != "http://a.example/c.png" {
		t.Errorf("received segment: %q %v", url, err)
	}
	var bad *platform.BadParamError
	if _, _, _, err := off.Resolve(ctx, 2, seg("file", "base64://x"), load, who); !errors.As(err, &bad) ||
		!strings.Contains(err.Error(), "message[2]: image.file: Chat stores no files") || !strings.Contains(err.Error(), "chat.media") {
		t.Errorf("unconfigured: %v", err)
	}
	if _, _, _, err := on.Resolve(ctx, 0, seg("file", "base64://x"), nil, who); !errors.As(err, &bad) || !strings.Contains(err.Error(), "cannot be read here") {
		t.Errorf("no loader: %v", err)
	}
	url, data, name, err := on.Resolve(ctx, 0, seg("file", "base64://x"), load, who)
	if err != nil || !strings.HasPrefix(url, "http://media.example/m/") || !strings.HasSuffix(url, ".png") || len(data) != len(img) || name != "cat.png" {
		t.Errorf("hosted: %q %d %q %v", url, len(data), name, err)
	}
	video := seg("file", "base64://x")
	video.Type = segment.TypeVideo
	if _, _, _, err := on.Resolve(ctx, 1, video, load, who); !errors.As(err, &bad) || !strings.Contains(err.Error(), "message[1]: video.file") {
		t.Errorf("a PNG as a video: %v", err)
	}
}
