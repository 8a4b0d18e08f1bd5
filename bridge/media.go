package bridge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/yunhu-onebot/yunhu-onebot/internal/clip"
	"github.com/yunhu-onebot/yunhu-onebot/onebot"
	"github.com/yunhu-onebot/yunhu-onebot/platform"
)

// Media for outgoing image, record, video and file segments is named by
// their file parameter in one of three forms (message/segment.md):
//
//	http:// or https://  fetched, at most Options.MaxMediaBytes within
//	                     Options.FetchTimeout; redirects only to http(s);
//	                     only from addresses the media rules allow
//	base64://<data>      standard or URL-safe base64, padding optional
//	file:///abs/path     a regular file below one of the media rules'
//	                     roots, absolute path only
//
// Every failure to obtain the bytes is the client's to fix (a dead link, a
// typo, a file too large, a source the rules refuse), so it is a 1400
// naming the parameter. The rules are in mediarules.go: go-cqhttp trusts
// the bot with every file and address the daemon can reach, which makes
// the access token a key to the host's secrets.

// MediaUserAgent is the User-Agent of media fetches, so that a server on
// this host can tell them from a person (the sandbox's control API
// refuses them).
const MediaUserAgent = "yunhu-onebot-media"

// maxMediaRedirects bounds a redirect chain when fetching media.
const maxMediaRedirects = 10

// loadMedia returns the bytes that ref names and a file name for them (the
// last path element, or "" when the form has none). param names the
// parameter in errors, e.g. "image.file".
func (b *Bridge) loadMedia(ctx context.Context, param, ref string) ([]byte, string, error) {
	lower := strings.ToLower(ref)
	switch {
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		return b.fetchMedia(ctx, param, ref)
	case strings.HasPrefix(lower, "base64://"):
		data, err := b.decodeBase64(param, ref[len("base64://"):])
		return data, "", err
	case strings.HasPrefix(lower, "file:"):
		return b.readLocalMedia(param, ref)
	case ref == "":
		return nil, "", onebot.ErrBadParams("%s: required", param)
	}
	return nil, "", onebot.ErrBadParams("%s: %q is not an http(s):// URL, base64:// data or a file:/// absolute path", param, clip.Bytes(ref, 80))
}

// tooLarge is the error for media beyond the cap.
func (b *Bridge) tooLarge(param string, n int64) error {
	return onebot.ErrBadParams("%s: media too large: %d bytes, the limit is %d", param, n, b.opts.MaxMediaBytes)
}

// decodeBase64 accepts what bots produce: standard or URL-safe alphabet,
// with or without padding, and line breaks (some encoders wrap at 76).
func (b *Bridge) decodeBase64(param, s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, onebot.ErrBadParams("%s: empty base64 data", param)
	}
	if n := int64(base64.RawStdEncoding.DecodedLen(len(s))); n > b.opts.MaxMediaBytes {
		return nil, b.tooLarge(param, n)
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	data, err := enc.DecodeString(s)
	if err != nil {
		return nil, onebot.ErrBadParams("%s: bad base64 data: %v", param, err)
	}
	return data, nil
}

// readLocalMedia reads a file:/// URI under the media rules. Relative
// paths are refused: the daemon's working directory is not something a
// bot can know.
func (b *Bridge) readLocalMedia(param, ref string) ([]byte, string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, "", onebot.ErrBadParams("%s: bad file URI: %v", param, err)
	}
	if u.Host != "" && u.Host != "localhost" {
		return nil, "", onebot.ErrBadParams("%s: %q is not an absolute path: use file:///absolute/path", param, clip.Bytes(ref, 80))
	}
	p := u.Path
	if p == "" {
		p = u.Opaque // file:relative/path
	}
	if !filepath.IsAbs(p) {
		return nil, "", onebot.ErrBadParams("%s: %q is not an absolute path: use file:///absolute/path", param, clip.Bytes(ref, 80))
	}
	f, err := b.media.openLocal(p)
	if errors.Is(err, errNoSuchFile) {
		// The same words whether the file is missing or may not be read.
		return nil, "", onebot.ErrBadParams("%s: %s: no such file under message.media.file-roots", param, clip.Bytes(p, 120))
	}
	if err != nil {
		return nil, "", onebot.ErrBadParams("%s: %s: %v", param, clip.Bytes(p, 120), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", onebot.ErrBadParams("%s: %v", param, err)
	}
	if st.Size() > b.opts.MaxMediaBytes {
		return nil, "", b.tooLarge(param, st.Size())
	}
	data, err := readMediaCapped(f, b.opts.MaxMediaBytes)
	if err != nil {
		if errors.Is(err, errMediaTooLarge) {
			return nil, "", b.tooLarge(param, int64(len(data)))
		}
		return nil, "", onebot.ErrBadParams("%s: read %s: %v", param, p, err)
	}
	return data, filepath.Base(p), nil
}

var errMediaTooLarge = errors.New("too large")

// readMediaCapped reads r to the end, failing with errMediaTooLarge past max bytes.
func readMediaCapped(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return data, errMediaTooLarge
	}
	return data, nil
}

// fetchMedia downloads an http(s) URL. A 403 is retried once with the
// Referer the backend names for the URL (platform.MediaReferer), if any:
// some platforms' media servers refuse requests without one, and bots
// commonly send back the url of an image they received.
func (b *Bridge) fetchMedia(ctx context.Context, param, rawURL string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.opts.FetchTimeout)
	defer cancel()
	// A transport of its own that keeps no idle connections: media fetches
	// are rare, and nothing must outlive the call. Its dialer applies the
	// media rules to every address dialled; no proxy, or the rules would
	// see only the proxy's address.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.Proxy = nil
	tr.DialContext = b.media.dialer().DialContext
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if s := req.URL.Scheme; s != "http" && s != "https" {
				return fmt.Errorf("redirect to a %s: URL refused", s)
			}
			if len(via) >= maxMediaRedirects {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	data, name, status, err := b.fetchOnce(ctx, client, param, rawURL, "")
	if err == nil && status == http.StatusForbidden {
		if referer := b.mediaReferer(rawURL); referer != "" {
			data, name, status, err = b.fetchOnce(ctx, client, param, rawURL, referer)
		}
	}
	if err != nil {
		return nil, "", err
	}
	if status != http.StatusOK {
		return nil, "", onebot.ErrBadParams("%s: fetch %s: HTTP %d %s", param, shownURL(rawURL), status, http.StatusText(status))
	}
	return data, name, nil
}

// mediaReferer is the Referer the backend wants for fetching rawURL, ""
// for none.
func (b *Bridge) mediaReferer(rawURL string) string {
	if mr, ok := b.backend.(platform.MediaReferer); ok {
		return mr.Referer(rawURL)
	}
	return ""
}

// fetchOnce makes one GET, with referer as the Referer unless it is "". A
// non-200 status is returned without error and without data.
func (b *Bridge) fetchOnce(ctx context.Context, client *http.Client, param, rawURL, referer string) ([]byte, string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", 0, onebot.ErrBadParams("%s: %s is not a valid URL", param, shownURL(rawURL))
	}
	req.Header.Set("User-Agent", MediaUserAgent) // kept on every redirect hop
	if referer != "" {
		req.Header.Set("Referer", referer)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, "", 0, onebot.ErrBadParams("%s: fetch %s: no answer within %s", param, shownURL(rawURL), b.opts.FetchTimeout)
		}
		var re *refusedError
		if errors.As(err, &re) {
			return nil, "", 0, onebot.ErrBadParams("%s: fetch %s: %s", param, shownURL(rawURL), re.msg)
		}
		return nil, "", 0, onebot.ErrBadParams("%s: fetch %s: %v", param, shownURL(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, "", resp.StatusCode, nil
	}
	if resp.ContentLength > b.opts.MaxMediaBytes {
		return nil, "", 0, b.tooLarge(param, resp.ContentLength)
	}
	data, err := readMediaCapped(resp.Body, b.opts.MaxMediaBytes)
	if errors.Is(err, errMediaTooLarge) {
		return nil, "", 0, onebot.ErrBadParams("%s: media too large: more than %d bytes", param, b.opts.MaxMediaBytes)
	}
	if err != nil {
		return nil, "", 0, onebot.ErrBadParams("%s: fetch %s: %v", param, shownURL(rawURL), err)
	}
	return data, responseName(resp), http.StatusOK, nil
}

// shownURL is a media URL as errors show it: without its query, fragment
// and user info, which may hold credentials (an access_token, say), and
// clipped.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the URL"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	return clip.Bytes(u.String(), 120)
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// responseName is the file name a download suggests: Content-Disposition,
// else the last element of the final URL's path.
func responseName(resp *http.Response) string {
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return path.Base(params["filename"])
	}
	if base := path.Base(resp.Request.URL.Path); base != "/" && base != "." {
		return base
	}
	return ""
}
