package onebot

import (
	"context"
	"slices"
	"testing"
)

func TestRouterActions(t *testing.T) {
	r := NewRouter(RouterOptions{})
	noop := func(context.Context, *Request) (any, error) { return nil, nil }
	r.Register("send_msg", noop)
	r.Register("get_status", noop)
	want := []string{".handle_quick_operation", "get_status", "send_msg"}
	if got := r.Actions(); !slices.Equal(got, want) {
		t.Fatalf("Actions() = %q, want %q", got, want)
	}
}
