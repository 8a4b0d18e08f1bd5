package yunhu

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig for the width/height send-message carries
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path"
	"strings"

	"go.uber.org/zap"
)

// UploadKind selects the token endpoint, key naming and message shape of an
// upload (§5).
type UploadKind int

// Upload kinds.
const (
	UploadImage UploadKind = iota + 1
	UploadFile
	UploadAudio
	UploadVideo
)

func (k UploadKind) String() string {
	switch k {
	case UploadImage:
		return "image"
	case UploadFile:
		return "file"
	case UploadAudio:
		return "audio"
	case UploadVideo:
		return "video"
	}
	return fmt.Sprintf("upload_kind(%d)", int(k))
}

func (k UploadKind) tokenPath() string {
	switch k {
	case UploadFile:
		return PathQiniuTokenFile
	case UploadAudio:
		return PathQiniuTokenAudio
	case UploadVideo:
		return PathQiniuTokenVideo
	}
	return PathQiniuTokenImage
}

// ErrTooLarge is returned when media exceeds Options.MaxUploadSize.
var ErrTooLarge = errors.New("yunhu: media too large")

// Upload is an uploaded object, ready to be referenced by send-message.
type Upload struct {
	Kind   UploadKind
	Key    string // object key: "<md5>.<ext>", files "disk/<md5>.<ext>"
	Hash   string // Qiniu etag from the upload reply
	Name   string // original file name (files)
	MIME   string // sniffed content type
	Suffix string // extension without dot
	Size   int64
	Width  int64 // images, when decodable
	Height int64
}

// Outgoing returns the message that sends u into chat (§5.4). Voice messages
// should also set Content.AudioSeconds.
func (u *Upload) Outgoing(chat Chat) Outgoing {
	o := Outgoing{Chat: chat}
	media := &MediaInfo{Key: u.Key, Hash: u.Hash, MIME: u.MIME, Suffix: u.Suffix, Width: u.Width, Height: u.Height, Size: u.Size}
	switch u.Kind {
	case UploadImage:
		o.ContentType = ContentImage
		o.Content = Content{Image: u.Key, FileSize: u.Size}
		o.Media = media
	case UploadFile:
		o.ContentType = ContentFile
		o.Content = Content{FileURL: u.Key, FileName: u.Name, FileSize: u.Size}
	case UploadAudio:
		o.ContentType = ContentAudio
		o.Content = Content{AudioURL: u.Key, FileSize: u.Size}
		o.Media = media
	case UploadVideo:
		o.ContentType = ContentVideo
		o.Content = Content{VideoURL: u.Key, FileSize: u.Size}
		o.Media = media
	}
	return o
}

// extByMIME maps sniffed types to the extensions real clients use in keys.
var extByMIME = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/bmp": "bmp",
	"video/mp4": "mp4", "video/webm": "webm", "video/avi": "avi",
	"audio/mpeg": "mp3", "audio/wave": "wav", "audio/ogg": "ogg", "audio/aiff": "aiff",
	"application/pdf": "pdf", "application/zip": "zip",
}

// defaultExt is used when neither the bytes nor the name tell.
var defaultExt = map[UploadKind]string{UploadImage: "jpg", UploadFile: "dat", UploadAudio: "m4a", UploadVideo: "mp4"}

// uploadKey names an object the way the real clients do (§5.3): md5 of the
// bytes, so identical media maps to the same key and re-uploads are no-ops.
// Images and videos take the extension from the sniffed bytes (names lie);
// files and voice prefer the name (m4a cannot be sniffed).
func uploadKey(kind UploadKind, data []byte, name, mimeType string) (key, suffix string) {
	sum := md5.Sum(data)
	nameExt := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if strings.ContainsAny(nameExt, "/\\ ") || len(nameExt) > 8 {
		nameExt = ""
	}
	sniffed := extByMIME[mimeType]
	family := map[UploadKind]string{UploadImage: "image/", UploadAudio: "audio/", UploadVideo: "video/"}[kind]
	if family != "" && !strings.HasPrefix(mimeType, family) {
		sniffed = ""
	}
	switch kind {
	case UploadImage, UploadVideo:
		suffix = cmp.Or(sniffed, nameExt, defaultExt[kind])
	default:
		suffix = cmp.Or(nameExt, sniffed, defaultExt[kind])
	}
	key = hex.EncodeToString(sum[:]) + "." + suffix
	if kind == UploadFile {
		key = KeyPrefixFile + key
	}
	return key, suffix
}

// Upload stores data on Yunhu's object storage (§5): it fetches an upload
// token, posts the multipart form to the configured upload URL and returns
// the key to put into send-message. name is the original file name (shown
// for files, a hint for the extension otherwise).
func (c *Client) Upload(ctx context.Context, kind UploadKind, name string, data []byte) (*Upload, error) {
	if int64(len(data)) > c.maxUpload {
		return nil, fmt.Errorf("upload %s %q: %d bytes: %w", kind, name, len(data), ErrTooLarge)
	}
	mimeType := http.DetectContentType(data)
	if i := strings.IndexByte(mimeType, ';'); i >= 0 {
		mimeType = mimeType[:i]
	}
	key, suffix := uploadKey(kind, data, name, mimeType)
	u := &Upload{Kind: kind, Key: key, Name: name, MIME: mimeType, Suffix: suffix, Size: int64(len(data))}
	if u.Name == "" {
		u.Name = path.Base(key)
	}
	if kind == UploadImage {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			u.Width, u.Height = int64(cfg.Width), int64(cfg.Height)
		}
	}

	var tok struct {
		Token string `json:"token"`
	}
	if err := c.callJSON(ctx, kind.tokenPath(), nil, &tok, true); err != nil {
		return nil, fmt.Errorf("upload %s: token: %w", kind, err)
	}
	if tok.Token == "" {
		return nil, fmt.Errorf("upload %s: empty token", kind)
	}

	fileName := key // images/audio/video: the key, like the official app
	if kind == UploadFile {
		fileName = u.Name
	}
	body, contentType, err := multipartBody(tok.Token, key, fileName, mimeType, data)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", kind, err)
	}
	var reply struct {
		Key   string `json:"key"`
		Hash  string `json:"hash"`
		Fsize int64  `json:"fsize"`
		Error string `json:"error"`
	}
	// Safe to retry: the key is a content hash, so a repeat stores the same object.
	err = c.callTimeout(ctx, c.transfer, c.upload, true, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.upload, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set(HeaderContentType, contentType)
		req.Header.Set("User-Agent", QiniuUserAgent)
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return err
		}
		_ = json.Unmarshal(raw, &reply)
		if resp.StatusCode != http.StatusOK {
			return &APIError{Endpoint: "upload", HTTPStatus: resp.StatusCode, Msg: orDefault(reply.Error, snippet(raw))}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("upload %s %s: %w", kind, key, err)
	}
	if reply.Key != "" && reply.Key != key {
		c.log.Warn("upload stored under another key", zap.String("want", key), zap.String("got", reply.Key))
		u.Key = reply.Key
	}
	u.Hash = reply.Hash
	return u, nil
}

// multipartBody builds the form of §5.3 with parts in the documented order:
// token, key, file.
func multipartBody(token, key, fileName, mimeType string, data []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("token", token); err != nil {
		return nil, "", err
	}
	if err := w.WriteField("key", key); err != nil {
		return nil, "", err
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", orDefault(mimeType, "application/octet-stream"))
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(data); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// Download fetches received media from Yunhu's CDN, which answers 403 unless
// the Referer of the official web app is sent (§1.1). It returns the bytes
// (at most Options.MaxUploadSize) and their sniffed content type.
func (c *Client) Download(ctx context.Context, url string) ([]byte, string, error) {
	var data []byte
	err := c.callTimeout(ctx, c.transfer, url, true, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set(HeaderReferer, Referer)
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &APIError{Endpoint: "download", HTTPStatus: resp.StatusCode, Msg: resp.Status}
		}
		data, err = io.ReadAll(io.LimitReader(resp.Body, c.maxUpload+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > c.maxUpload {
			return ErrTooLarge
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("download %s: %w", url, err)
	}
	return data, http.DetectContentType(data), nil
}
