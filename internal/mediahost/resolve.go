package mediahost

import (
	"context"
	"fmt"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/platform"
	"github.com/yunhu-onebot/yunhu-onebot/segment"
)

// Platform is how a backend's refusals name its platform.
type Platform struct {
	// Name is the platform as a sentence names it ("WuKongIM").
	Name string
	// NoFiles says why a medium needs hosting ("WuKongIM stores no
	// files"); Key is the config key that turns it on
	// ("wukongim.media").
	NoFiles, Key string
}

// Resolve finds the URL the platform's clients fetch the medium of
// segment s (the i-th of its message) from: an http(s) file (or, for a
// received segment sent back, its url) as it is; a local file or base64
// read through load (platform.EncodeEnv.Media, which applies the
// operator's rules and size limit), checked against the segment's type
// and hosted. It returns the URL, the bytes when it read them, and the
// file name to show. Its errors are the action's: *platform.BadParamError
// for the bot's mistakes, a definite *platform.Error when the file cannot
// be kept.
func (h *Host) Resolve(ctx context.Context, i int, s segment.Segment, load func(ctx context.Context, param, ref string) ([]byte, string, error), p Platform) (url string, data []byte, name string, err error) {
	param := s.Type + ".file"
	ref := s.Value("file")
	if !HasScheme(ref, "http://", "https://", "base64://", "file:") {
		// A received segment sent back: file is a name, url the source.
		if u := s.Value("url"); HasScheme(u, "http://", "https://") {
			ref, param = u, s.Type+".url"
		}
	}
	name = s.Value("name")
	if HasScheme(ref, "http://", "https://") {
		return ref, nil, name, nil
	}
	if !h.Enabled() {
		return "", nil, "", platform.BadParamf("message[%d]: %s: %s, and sending a local or base64 medium needs %s (dir and public-url) configured; send an http(s) URL instead", i, param, p.NoFiles, p.Key)
	}
	if load == nil {
		return "", nil, "", platform.BadParamf("message[%d]: %s: media cannot be read here", i, param)
	}
	data, fetched, err := load(ctx, param, ref)
	if err != nil {
		return "", nil, "", err
	}
	if err := h.Check(s.Type, param, data); err != nil {
		return "", nil, "", platform.BadParamf("message[%d]: %v", i, err)
	}
	if name == "" {
		name = fetched
	}
	if url, err = h.Put(data, name); err != nil {
		return "", nil, "", &platform.Error{Msg: fmt.Sprintf("message[%d]: %s: keep the file for %s: %v", i, param, p.Name, err), Definite: true, Err: err}
	}
	return url, data, name, nil
}

// HasScheme reports whether ref starts with one of schemes, in any case.
func HasScheme(ref string, schemes ...string) bool {
	l := strings.ToLower(ref)
	for _, s := range schemes {
		if strings.HasPrefix(l, s) {
			return true
		}
	}
	return false
}
